//! TCP connection lifecycle events and per-cgroup TCP counters (`tcp` source).

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::Attribution;

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
    /// Owning task name (`process.executable.name` as the kernel knows it); shared between
    /// the events of one task name.
    pub comm: Arc<str>,
    /// cgroup v2 id of the owning process, 0 when unknown.
    pub cgroup_id: u64,
    /// Network namespace inode, 0 when unknown.
    #[serde(default)]
    pub netns: u32,
    /// Opaque socket identity while the connection lives (pairs a connect with its close).
    #[serde(default)]
    pub sock_id: u64,
    /// What the kernel read from the socket as it closed; close and failed-connect events
    /// only (absent in recordings made before kotel carried it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<TcpConnStats>,
    /// The container, pod and namespace (or host) of the event, set by `k8s_cri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Attribution,
}

/// A connection's totals at close, read in the kernel (as `tcplife` reports them). The
/// byte counts are the kernel's (`TCP_INFO` `tcpi_bytes_acked`, `tcpi_bytes_received`):
/// sequence space, so they exceed the payload by the connecting side's SYN (+1 sent) and
/// each FIN (+1 once acknowledged / received).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TcpConnStats {
    /// Bytes the peer acknowledged (`tcp_sock.bytes_acked`; retransmitted copies count
    /// once; + SYN of outbound connections, + FIN once acknowledged).
    pub bytes_sent: u64,
    /// Bytes received in order (`tcp_sock.bytes_received`; + the peer's FIN).
    pub bytes_received: u64,
    /// Smoothed RTT at close in µs (`tcp_sock.srtt_us >> 3`; 0 without a sample).
    pub srtt_us: u32,
    /// Minimum RTT seen in µs (`tcp_sock.rtt_min`; 0 without a sample).
    pub min_rtt_us: u32,
    /// Successful retransmissions (`tcp:tcp_retransmit_skb`, one per retransmitted skb).
    pub retransmits: u32,
    /// Resets sent while the connection was open (resets sent as it closes count only
    /// per cgroup, see `TcpCounters`).
    pub resets_sent: u32,
    /// Resets received.
    pub resets_received: u32,
}

/// Retransmits and resets of one cgroup during one interval (deltas, not totals).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TcpCounters {
    /// Wall-clock end of the interval, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Length of the interval in nanoseconds.
    pub interval_ns: u64,
    /// cgroup v2 id the sockets belonged to (0 when unknown).
    pub cgroup_id: u64,
    /// Segments retransmitted.
    pub retransmits: u64,
    /// Resets sent.
    pub resets_sent: u64,
    /// Resets received.
    pub resets_received: u64,
    /// The container, pod and namespace (or host) of the event, set by `k8s_cri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Attribution,
}
