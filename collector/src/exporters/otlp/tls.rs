//! TLS for `https://` endpoints: the public web roots plus an optional CA file, and an
//! optional client certificate (mutual TLS), for both transports.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::exporters::otlp::config::TlsConfig;

/// The PEM files of a [`TlsConfig`], read.
pub struct TlsFiles {
    ca: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsFiles {
    /// Reads the files `config` names.
    pub fn read(config: &TlsConfig) -> Result<Self, String> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let ca = (!config.ca_file.as_os_str().is_empty())
            .then(|| read(&config.ca_file))
            .transpose()?;
        let identity = if config.cert_file.as_os_str().is_empty() {
            None
        } else {
            Some((read(&config.cert_file)?, read(&config.key_file)?))
        };
        Ok(Self { ca, identity })
    }

    /// The gRPC client's TLS settings.
    pub fn grpc(&self) -> ClientTlsConfig {
        // OTLP/gRPC is HTTP/2 whatever the TLS layer negotiates: a TLS proxy without ALPN
        // in front of a collector is common.
        let mut tls = ClientTlsConfig::new()
            .with_webpki_roots()
            .assume_http2(true);
        if let Some(ca) = &self.ca {
            tls = tls.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = &self.identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        tls
    }

    /// The HTTP client's TLS settings.
    pub fn rustls(&self) -> Result<rustls::ClientConfig, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(ca) = &self.ca {
            for cert in certificates(ca)? {
                roots.add(cert).map_err(|e| format!("CA file: {e}"))?;
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
        match &self.identity {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let key = private_key(key)?;
                builder
                    .with_client_auth_cert(certificates(cert)?, key)
                    .map_err(|e| format!("client certificate: {e}"))
            }
        }
    }
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut &pem[..]).collect();
    let certs = certs.map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in the PEM file".into());
    }
    Ok(certs)
}

fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    rustls_pemfile::private_key(&mut &pem[..])
        .map_err(|e| format!("not a PEM private key: {e}"))?
        .ok_or_else(|| "no private key in the PEM file".to_string())
}
