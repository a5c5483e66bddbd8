//! Configuration of the `otlp` exporter.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::duration;
use crate::settings::ConfigError;

/// `exporters.otlp`: metrics and logs to any OpenTelemetry backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpExporterConfig {
    /// `http://host:port` as in the OTel SDKs (`OTEL_EXPORTER_OTLP_ENDPOINT`): for
    /// `grpc` the server, for `http/protobuf` the base to which `/v1/metrics` and
    /// `/v1/logs` are added. Empty: the exporter is off (it takes batches and sends
    /// nothing), so a pipeline can switch on with an environment variable alone.
    pub endpoint: String,
    /// `grpc` or `http/protobuf`.
    pub protocol: Protocol,
    /// Headers sent with every request (e.g. an API token).
    pub headers: BTreeMap<String, String>,
    /// `none` or `gzip`.
    pub compression: Compression,
    /// Longest one request may take.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Retries of retryable failures (unavailable, throttled, 429/502/503/504).
    pub retry: RetryConfig,
    /// Requests waiting to be sent; the oldest are dropped first when it is full.
    pub queue: QueueConfig,
    /// Resource attributes added to `service.name`, `service.version`, `host.name` and
    /// `k8s.node.name`.
    pub resource: BTreeMap<String, String>,
    /// `k8s.node.name` on the resource; empty: `$K8S_NODE_NAME`, `$NODE_NAME`, else none.
    pub node_name: String,
    /// TLS for `https://` endpoints.
    pub tls: TlsConfig,
}

/// TLS files (PEM). The public web roots are always trusted; `ca_file` adds a private CA.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// A CA certificate (bundle) to trust besides the public roots.
    pub ca_file: PathBuf,
    /// A client certificate for mutual TLS (with `key_file`).
    pub cert_file: PathBuf,
    /// The client certificate's private key.
    pub key_file: PathBuf,
}

/// The OTLP transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    /// OTLP/gRPC.
    #[default]
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

/// Request body compression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// None.
    #[default]
    None,
    /// gzip.
    Gzip,
}

/// Retry settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// First wait; doubles (with up to 50% jitter) up to `max_interval`.
    #[serde(with = "duration")]
    pub initial_interval: Duration,
    /// Longest wait between attempts.
    #[serde(with = "duration")]
    pub max_interval: Duration,
    /// Give a request up after this long (counted as `retries_exhausted`).
    #[serde(with = "duration")]
    pub max_elapsed: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(30),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

/// Queue bounds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Most requests waiting.
    pub max_requests: usize,
    /// Most encoded bytes waiting.
    pub max_bytes: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_requests: 1000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Default for OtlpExporterConfig {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            protocol: Protocol::Grpc,
            headers: BTreeMap::new(),
            compression: Compression::None,
            timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
            queue: QueueConfig::default(),
            resource: BTreeMap::new(),
            node_name: String::new(),
            tls: TlsConfig::default(),
        }
    }
}

impl OtlpExporterConfig {
    /// Problems, with paths relative to the exporter.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if !self.endpoint.is_empty() {
            match self.endpoint.split_once("://") {
                Some(("http" | "https", rest)) if !rest.is_empty() => {}
                _ => problems.push(ConfigError::new(
                    "endpoint",
                    format!(
                        "\"{}\" is not an endpoint: use http://host:port or https://host:port",
                        self.endpoint
                    ),
                )),
            }
        }
        for (name, value) in &self.headers {
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !valid_name || value.bytes().any(|b| b == b'\n' || b == b'\r') {
                problems.push(ConfigError::new(
                    format!("headers::{name}"),
                    "not a valid HTTP header",
                ));
            }
        }
        if self.timeout < Duration::from_millis(100) || self.timeout > Duration::from_secs(300) {
            problems.push(ConfigError::new("timeout", "must be between 100ms and 5m"));
        }
        let r = &self.retry;
        if r.initial_interval.is_zero() || r.initial_interval > r.max_interval {
            problems.push(ConfigError::new(
                "retry::initial_interval",
                "must be more than 0s and at most retry::max_interval",
            ));
        }
        let tls = &self.tls;
        for (field, path) in [
            ("ca_file", &tls.ca_file),
            ("cert_file", &tls.cert_file),
            ("key_file", &tls.key_file),
        ] {
            if !path.as_os_str().is_empty() && !path.is_file() {
                problems.push(ConfigError::new(
                    format!("tls::{field}"),
                    format!("{} is not a readable file", path.display()),
                ));
            }
        }
        if tls.cert_file.as_os_str().is_empty() != tls.key_file.as_os_str().is_empty() {
            problems.push(ConfigError::new(
                "tls",
                "cert_file and key_file go together",
            ));
        }
        if self.queue.max_requests == 0 {
            problems.push(ConfigError::new(
                "queue::max_requests",
                "must be at least 1",
            ));
        }
        if self.queue.max_bytes < 64 * 1024 {
            problems.push(ConfigError::new(
                "queue::max_bytes",
                "must be at least 65536",
            ));
        }
        problems
    }

    /// The node name for the resource (configured, else from the environment).
    pub fn resolved_node_name(&self) -> String {
        crate::settings::node::node_name(&self.node_name).unwrap_or_default()
    }
}
