//! Assertions of the tcp kernel test on the events and self-telemetry of one run.

use std::collections::HashSet;
use std::net::IpAddr;

use kotel::event::{Direction, TcpConnEvent, TcpEventKind};
use kotel::telemetry::names;

use kotel_integration_tests::support::{Workload, THREAD_NAME};

/// Exactly `n` connects and accepts, `2n` closes and one refused connect, each with the
/// right ports, direction, owner (`comm` of the namespace thread, this cgroup), addresses,
/// and measurements.
pub fn check(events: &[&TcpConnEvent], w: &Workload, ip: IpAddr, cgroup: u64, n: usize) {
    let of = |k: TcpEventKind| {
        events
            .iter()
            .copied()
            .filter(move |e| e.kind == k)
            .collect::<Vec<_>>()
    };
    let clients: HashSet<u16> = w.client_ports.iter().copied().collect();
    for e in events {
        assert_eq!(
            (e.cgroup_id, &*e.comm),
            (cgroup, THREAD_NAME),
            "owner of {e:?}"
        );
        assert_eq!(
            (e.local_addr, e.remote_addr),
            (ip, ip),
            "addresses of {e:?}"
        );
        assert!(
            e.time_unix_nano > 1_600_000_000_000_000_000,
            "wall-clock time of {e:?}"
        );
    }
    let (connects, accepts, closes, failed) = (
        of(TcpEventKind::Connect),
        of(TcpEventKind::Accept),
        of(TcpEventKind::Close),
        of(TcpEventKind::ConnectFailed),
    );
    assert_eq!(
        (connects.len(), accepts.len(), closes.len(), failed.len()),
        (n, n, 2 * n, 1),
        "connect, accept, close, failed"
    );
    for e in &connects {
        assert_eq!(e.direction, Direction::Outbound);
        assert_eq!(e.remote_port, w.port);
        assert!(clients.contains(&e.local_port), "{e:?}");
        assert!(
            e.connect_latency_ns.is_some_and(|l| l > 0),
            "connect latency of {e:?}"
        );
    }
    for e in &accepts {
        assert_eq!((e.direction, e.local_port), (Direction::Inbound, w.port));
        assert!(clients.contains(&e.remote_port), "{e:?}");
    }
    let (client_closes, server_closes): (Vec<&TcpConnEvent>, Vec<&TcpConnEvent>) = closes
        .iter()
        .copied()
        .partition(|e| e.remote_port == w.port);
    assert_eq!(
        (client_closes.len(), server_closes.len()),
        (n, n),
        "client and server closes"
    );
    for e in &client_closes {
        assert_eq!(e.direction, Direction::Outbound);
        assert!(clients.contains(&e.local_port), "{e:?}");
        assert!(
            e.connect_latency_ns.is_some() && e.duration_ns.is_some_and(|d| d > 0),
            "{e:?}"
        );
    }
    for e in &server_closes {
        assert_eq!((e.direction, e.local_port), (Direction::Inbound, w.port));
        assert!(e.duration_ns.is_some_and(|d| d > 0), "{e:?}");
    }
    let f = failed[0];
    assert_eq!(
        (f.remote_port, f.failed_state.as_deref()),
        (w.closed_port, Some("syn_sent"))
    );
    assert_eq!(f.direction, Direction::Outbound);
    // Every connection's sockets pair up: one connect and one close per client socket.
    let connect_ids: HashSet<u64> = connects.iter().map(|e| e.sock_id).collect();
    assert!(
        client_closes
            .iter()
            .all(|e| connect_ids.contains(&e.sock_id)),
        "close without its connect"
    );
}

/// The source's final stats poll (at shutdown) reported the kernel counters: at least this
/// test's events were emitted, nothing was lost or undecodable.
pub fn check_self_telemetry(n: usize) {
    let t = kotel::telemetry::snapshot();
    let emitted = t.counter_sum(names::TCP_KERNEL_EVENTS, &[("stat", "emitted")]);
    assert!(
        emitted >= (4 * n + 1) as f64,
        "kernel_events{{stat=emitted}} = {emitted}"
    );
    assert_eq!(
        t.counter_sum(names::RINGBUF_LOST, &[("source", "tcp")]),
        0.0,
        "ring buffer losses"
    );
    assert_eq!(
        t.counter_sum(names::DECODE_ERRORS, &[("source", "tcp")]),
        0.0,
        "decode errors"
    );
}
