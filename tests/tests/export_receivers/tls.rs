//! A private CA, a server certificate for 127.0.0.1 and a client certificate (openssl),
//! and socat terminating mutual TLS in front of a plain receiver port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kotel_integration_tests::local_server::{accepts, free_port};

/// PEM files of a test PKI.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// Makes the CA and both certificates in `dir`.
    pub fn new(dir: &Path) -> Pki {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=kotel test CA",
            ],
        );
        // Extensions make v3 certificates (webpki refuses v1 ones).
        std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
            let key = format!("{name}.key");
            let csr = format!("{name}.csr");
            let pem = format!("{name}.pem");
            openssl(
                dir,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &key,
                    "-out",
                    &csr,
                    "-subj",
                    &format!("/CN=kotel test {name}"),
                ],
            );
            let sign = [
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                ext,
            ];
            openssl(dir, &sign);
        }
        Pki {
            ca: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client.key"),
        }
    }
}

/// socat accepting TLS (client certificate required) on a free port and forwarding to
/// `target_port`; killed on drop.
pub struct TlsProxy {
    child: Child,
    /// The TLS port.
    pub port: u16,
}

impl TlsProxy {
    /// Starts the proxy.
    pub fn start(pki: &Pki, target_port: u16) -> TlsProxy {
        let port = free_port().unwrap();
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},cafile={},verify=1",
            pki.server_cert.display(),
            pki.server_key.display(),
            pki.ca.display()
        );
        let child = Command::new("socat")
            .arg(listen)
            .arg(format!("TCP:127.0.0.1:{target_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !accepts(port) {
            assert!(Instant::now() < deadline, "socat did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsProxy { child, port }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
