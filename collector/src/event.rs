//! The event model that flows through a pipeline: what sources emit, processors transform
//! and exporters encode. Every type here serializes to one JSON object per event, which is
//! the format of recorded files (`kotel run --record`) and of the `replay` source.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// A unit of work between components. Batches keep per-item channel overhead off the
/// hot path; a batch is never empty when sent.
pub type Batch = Vec<Event>;

/// Anything that travels through a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A TCP connection lifecycle event from the `tcp` source.
    Tcp(TcpConnEvent),
    /// The agent's own counters and gauges, injected by the runtime into every exporter
    /// each telemetry interval.
    Telemetry(TelemetrySnapshot),
}

impl Event {
    /// A short name of the event's type, as in its JSON `type` field.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Tcp(_) => "tcp",
            Event::Telemetry(_) => "telemetry",
        }
    }
}

/// What happened to a TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpEventKind {
    /// Outbound connect completed.
    Connect,
    /// Inbound connection accepted by a local listener.
    Accept,
    /// Outbound connect failed before it was established.
    ConnectFailed,
    /// An established connection closed.
    Close,
}

impl TcpEventKind {
    /// The name used in output and in filters.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpEventKind::Connect => "connect",
            TcpEventKind::Accept => "accept",
            TcpEventKind::ConnectFailed => "connect_failed",
            TcpEventKind::Close => "close",
        }
    }
}

/// Which side opened the connection (`network.io.direction`-like, but about who dialled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The local process connected out.
    Outbound,
    /// A remote peer connected to a local listener.
    Inbound,
    /// The agent started after the connection was opened.
    Unknown,
}

impl Direction {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
            Direction::Unknown => "unknown",
        }
    }
}

/// One TCP connection lifecycle event, decoded from the kernel record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TcpConnEvent {
    /// What happened.
    pub kind: TcpEventKind,
    /// Wall-clock time of the event, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Who opened the connection.
    pub direction: Direction,
    /// Local address (`network.local.address`).
    pub local_addr: IpAddr,
    /// Local port.
    pub local_port: u16,
    /// Remote address (`network.peer.address`).
    pub remote_addr: IpAddr,
    /// Remote port (`network.peer.port`).
    pub remote_port: u16,
    /// SYN_SENT -> ESTABLISHED, measured in the kernel; outbound connections only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_latency_ns: Option<u64>,
    /// ESTABLISHED -> CLOSE; close events only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ns: Option<u64>,
    /// The TCP state a failed connect died in (`syn_sent`, `syn_recv`); failures only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_state: Option<String>,
    /// Owning process id (`process.pid`), 0 when unknown.
    pub pid: u32,
    /// Owning task name (`process.executable.name` as the kernel knows it).
    pub comm: String,
    /// cgroup v2 id of the owning process, 0 when unknown.
    pub cgroup_id: u64,
    /// Network namespace inode, 0 when unknown.
    #[serde(default)]
    pub netns: u32,
    /// Opaque socket identity while the connection lives (pairs a connect with its close).
    #[serde(default)]
    pub sock_id: u64,
}

/// A point-in-time copy of the agent's own metrics (`kotel.*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TelemetrySnapshot {
    /// Wall-clock time of the snapshot, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Monotonic counters, sorted by name then labels.
    pub counters: Vec<TelemetryPoint>,
    /// Gauges (e.g. channel depth), sorted by name then labels.
    pub gauges: Vec<TelemetryPoint>,
}

/// One self-telemetry series and its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TelemetryPoint {
    /// Metric name, `kotel.*`.
    pub name: String,
    /// Label pairs, sorted by key.
    pub labels: Vec<(String, String)>,
    /// Current value (counters: cumulative since start).
    pub value: f64,
}
