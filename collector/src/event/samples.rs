//! Events for unit tests of the layers above `event` (processors, exporters, the runtime).

use crate::event::{Direction, Event, TcpConnEvent, TcpEventKind};

/// An outbound connect from pid 42 (`curl`, cgroup 7) to 127.0.0.1:`port`.
pub(crate) fn tcp_event(port: u16) -> Event {
    Event::Tcp(TcpConnEvent {
        workload: None,
        kind: TcpEventKind::Connect,
        time_unix_nano: 1_700_000_000_000_000_000,
        direction: Direction::Outbound,
        local_addr: "127.0.0.1".parse().unwrap(),
        local_port: 40_000,
        remote_addr: "127.0.0.1".parse().unwrap(),
        remote_port: port,
        connect_latency_ns: Some(12_345),
        duration_ns: None,
        failed_state: None,
        pid: 42,
        comm: "curl".into(),
        cgroup_id: 7,
        netns: 0,
        sock_id: 1,
        stats: None,
    })
}
