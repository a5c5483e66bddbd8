//! Hand-made events for tests and benchmarks that drive processors directly.

use std::net::{IpAddr, Ipv4Addr};

use kotel::event::{Direction, TcpConnEvent, TcpEventKind};

/// An unattributed loopback TCP connect from cgroup `cgroup_id` by process `pid` (0: a
/// per-cgroup event, no process to look at), `sock_id` as given.
pub fn tcp_connect(cgroup_id: u64, pid: u32, sock_id: u64) -> TcpConnEvent {
    TcpConnEvent {
        kind: TcpEventKind::Connect,
        time_unix_nano: 1,
        direction: Direction::Outbound,
        local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        local_port: 40000,
        remote_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        remote_port: 80,
        connect_latency_ns: None,
        duration_ns: None,
        failed_state: None,
        pid,
        comm: "test".into(),
        cgroup_id,
        netns: 0,
        sock_id,
        stats: None,
        workload: None,
    }
}
