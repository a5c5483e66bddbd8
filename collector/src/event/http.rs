//! HTTP requests seen from socket syscalls (`l7` source): one per request and response,
//! exported as a span and measured as RED metrics.

use serde::{Deserialize, Serialize};

use crate::event::Attribution;

/// Which end of the exchange the observed process is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpSide {
    /// It answered the request (a SERVER span).
    #[default]
    Server,
    /// It made the request (a CLIENT span).
    Client,
}

/// Why an exchange is an error besides its status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpFailure {
    /// No response within the source's `request_timeout`.
    Timeout,
    /// The connection closed before the response came (complete).
    ConnectionClosed,
}

impl HttpFailure {
    /// The `error.type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpFailure::Timeout => "timeout",
            HttpFailure::ConnectionClosed => "connection_closed",
        }
    }
}

/// One HTTP/1.x request and its response (or the lack of one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpEvent {
    /// Server or client side.
    pub side: HttpSide,
    /// Start, nanoseconds since the Unix epoch: the first request bytes read (server) or
    /// written (client).
    pub start_time_unix_nano: u64,
    /// End: the last response bytes written (server) or read (client); for a failure, when
    /// it was noticed.
    pub end_time_unix_nano: u64,
    /// Process id.
    pub pid: u32,
    /// Task name.
    pub comm: String,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// `http.request.method` (a known method, else `_OTHER`).
    pub method: String,
    /// `url.path`: the request target without its query, at most 512 bytes.
    pub path: String,
    /// `http.route`: the path with identifiers folded (bounded cardinality).
    pub route: String,
    /// `network.protocol.version` (`1.0`, `1.1`).
    pub version: String,
    /// `http.response.status_code`; 0 when no response came.
    pub status: u16,
    /// The request's `Host` header without port (empty when absent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// The observed process's address on the connection.
    pub local_address: String,
    /// Its port.
    pub local_port: u16,
    /// The other end's address (`network.peer.address`).
    pub peer_address: String,
    /// Its port (`network.peer.port`).
    pub peer_port: u16,
    /// `http.request.body.size` from `Content-Length`, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body_bytes: Option<u64>,
    /// `http.response.body.size` from `Content-Length`, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_bytes: Option<u64>,
    /// Trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// Span id, 16 lowercase hex digits.
    pub span_id: String,
    /// Parent span id (empty for a root span).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent_span_id: String,
    /// Whether the exchange failed without a status to say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<HttpFailure>,
    /// The container, pod and namespace (or host) of the process, set by `k8s_cri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Attribution,
}

impl HttpEvent {
    /// Duration in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.end_time_unix_nano
            .saturating_sub(self.start_time_unix_nano) as f64
            / 1e9
    }

    /// Whether the span is an error under the HTTP semantic conventions: a failure, a 5xx,
    /// or for a client a 4xx too.
    pub fn is_error(&self) -> bool {
        self.failure.is_some()
            || self.status >= 500
            || (self.side == HttpSide::Client && self.status >= 400)
    }

    /// The `error.type` value: the failure, else the status code of an error.
    pub fn error_type(&self) -> Option<String> {
        match self.failure {
            Some(f) => Some(f.as_str().to_string()),
            None if self.is_error() => Some(self.status.to_string()),
            None => None,
        }
    }
}
