//! HTTP requests seen from socket syscalls (`l7` source): one per request and response,
//! exported as a span and measured as RED metrics.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use crate::event::trace_ids::{SpanId, TraceId};
use crate::event::Attribution;

/// The request methods recognised (RFC 9110 plus PATCH); any other is `_OTHER`, as the
/// HTTP semantic conventions ask.
pub const HTTP_METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// `http.request.method`: one of [`HTTP_METHODS`], else `_OTHER`; a static string, so
/// an event carries it without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HttpMethod(&'static str);

impl HttpMethod {
    /// `method` if it is one of [`HTTP_METHODS`], else `_OTHER`.
    pub fn new(method: &str) -> Self {
        Self(
            HTTP_METHODS
                .iter()
                .find(|m| **m == method)
                .copied()
                .unwrap_or("_OTHER"),
        )
    }

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl Default for HttpMethod {
    fn default() -> Self {
        Self("GET")
    }
}

impl std::ops::Deref for HttpMethod {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for HttpMethod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for HttpMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::new(&std::borrow::Cow::<str>::deserialize(d)?))
    }
}

/// `HTTP/1.0` or `HTTP/1.1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HttpVersion {
    /// HTTP/1.0: connections close after the response unless `keep-alive` is asked.
    #[serde(rename = "1.0")]
    Http10,
    /// HTTP/1.1: connections persist unless `close` is asked.
    #[default]
    #[serde(rename = "1.1")]
    Http11,
}

impl HttpVersion {
    /// `network.protocol.version`: `1.0` or `1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "1.0",
            HttpVersion::Http11 => "1.1",
        }
    }
}

impl std::fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Task name (shared by the connection's exchanges).
    pub comm: Arc<str>,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// `http.request.method`.
    pub method: HttpMethod,
    /// `url.path`: the request target without its query, at most 512 bytes.
    pub path: String,
    /// `http.route`: the path with identifiers folded (bounded cardinality).
    pub route: String,
    /// `network.protocol.version`.
    pub version: HttpVersion,
    /// `http.response.status_code`; 0 when no response came.
    pub status: u16,
    /// The request's `Host` header without port (empty when absent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// The port the `Host` header names, when it names one: a server span's
    /// `server.port` (else the local port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
    /// The observed process's address on the connection.
    pub local_address: IpAddr,
    /// Its port.
    pub local_port: u16,
    /// The other end's address (`network.peer.address`).
    pub peer_address: IpAddr,
    /// Its port (`network.peer.port`).
    pub peer_port: u16,
    /// `http.request.body.size` from `Content-Length`, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body_bytes: Option<u64>,
    /// `http.response.body.size` from `Content-Length`, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_bytes: Option<u64>,
    /// Trace id (serialized as 32 lowercase hex digits).
    pub trace_id: TraceId,
    /// Span id (16 hex digits).
    pub span_id: SpanId,
    /// Parent span id (none for a root span).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<SpanId>,
    /// The sampled flag of the request's `traceparent`, when it carried one (the
    /// caller's decision, which `sampling` follows when `parent_based`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled: Option<bool>,
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

    /// The `error.type` of an error (see [`is_error`](Self::is_error)): the failure,
    /// else the status code. The one rule for spans and metrics alike.
    pub fn error_type(&self) -> Option<ErrorType> {
        match self.failure {
            Some(f) => Some(ErrorType::Failure(f)),
            None if self.is_error() => Some(ErrorType::Status(self.status)),
            None => None,
        }
    }
}

/// An `error.type` value; written out by `Display` (no allocation of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// The exchange failed without a status ([`HttpFailure::as_str`]).
    Failure(HttpFailure),
    /// The status code of an error response, as text.
    Status(u16),
}

impl std::fmt::Display for ErrorType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorType::Failure(failure) => f.write_str(failure.as_str()),
            ErrorType::Status(status) => write!(f, "{status}"),
        }
    }
}

impl Default for HttpEvent {
    /// A GET over HTTP/1.1 between unspecified addresses, with zero ids: a base for
    /// tests and replay files to fill in.
    fn default() -> Self {
        Self {
            side: HttpSide::default(),
            start_time_unix_nano: 0,
            end_time_unix_nano: 0,
            pid: 0,
            comm: Arc::from(""),
            cgroup_id: 0,
            method: HttpMethod::default(),
            path: String::new(),
            route: String::new(),
            version: HttpVersion::default(),
            status: 0,
            host: String::new(),
            host_port: None,
            local_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            local_port: 0,
            peer_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            peer_port: 0,
            request_body_bytes: None,
            response_body_bytes: None,
            trace_id: TraceId::default(),
            span_id: SpanId::default(),
            parent_span_id: None,
            sampled: None,
            failure: None,
            workload: None,
        }
    }
}
