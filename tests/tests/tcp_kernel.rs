//! The `tcp` source against the real kernel, as root: attach the real program, make loopback
//! connections inside a network namespace this test creates, and assert the exact events
//! (filtered by this process's pid and the namespace's inode).
//!
//! Without root the tests print why and return (skip). `scripts/test.sh` runs them as root.

#[path = "tcp_kernel/support.rs"]
mod support;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use kotel::config::ComponentId;
use kotel::event::{Batch, Direction, Event, TcpConnEvent, TcpEventKind};
use kotel::pipeline::{Shutdown, Source, SourceOutput};
use kotel::sources::tcp::{TcpSource, TcpSourceConfig};
use kotel_integration_tests::{is_root, skip};
use support::{NetnsThread, Workload, THREAD_NAME};
use tokio::sync::mpsc::Receiver;

/// Connections per test (the brief asks for at least 50).
const N: usize = 64;

#[test]
fn ipv4_loopback_connections_are_reported_exactly() {
    run_case("ipv4_loopback", IpAddr::V4(Ipv4Addr::LOCALHOST));
}

#[test]
fn ipv6_loopback_connections_are_reported_exactly() {
    run_case("ipv6_loopback", IpAddr::V6(Ipv6Addr::LOCALHOST));
}

fn run_case(name: &str, ip: IpAddr) {
    if !is_root() {
        return skip(name, "loading kernel programs needs root");
    }
    let ns = NetnsThread::spawn().expect("creating a network namespace");
    if !ns.run(move || support::can_bind(ip)) {
        return skip(name, &format!("{ip} is not available in a new network namespace"));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (out, mut rx) = SourceOutput::for_test(4096);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let config = TcpSourceConfig { batch_timeout: Duration::from_millis(50), ..TcpSourceConfig::default() };
    let source = Box::new(TcpSource::new(&"tcp".parse::<ComponentId>().unwrap(), &config));
    let run = source.run(out, Shutdown::new(stop_rx));
    let task = rt.spawn(async move {
        let result = run.await;
        if let Err(e) = &result {
            eprintln!("tcp source failed: {e}");
        }
        result
    });

    // The accept's owner comes from the listener map, so the measured listener must be
    // opened after the program is attached: wait until a warm-up connection is seen.
    let mut seen: Vec<TcpConnEvent> = Vec::new();
    let warmup_ports = wait_until_attached(&rt, &ns, ip, &mut rx, &mut seen);
    let w: Workload = ns.run(move || support::workload(ip, N)).expect("workload");
    let cgroup = support::own_cgroup_id().expect("own cgroup id");
    let mine = |e: &TcpConnEvent| {
        e.netns == ns.inode
            && e.pid == std::process::id()
            && !warmup_ports.contains(&e.local_port)
            && !warmup_ports.contains(&e.remote_port)
            && (e.local_port == w.port || e.remote_port == w.port || e.remote_port == w.closed_port)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut mine_count = 0;
    while mine_count < 4 * N + 1 && Instant::now() < deadline {
        receive(&rt, &mut rx, &mut seen, Duration::from_millis(100));
        mine_count = seen.iter().filter(|e| mine(e)).count();
    }
    receive(&rt, &mut rx, &mut seen, Duration::from_millis(300)); // anything extra shows up too
    stop.send(true).unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await })
        .expect("source stops within 5 s")
        .expect("source task")
        .expect("source returns Ok after shutdown");

    let events: Vec<&TcpConnEvent> = seen.iter().filter(|e| mine(e)).collect();
    check(&events, &w, ip, cgroup);
    eprintln!("{name}: {} events in netns {} checked ({} seen in total)", events.len(), ns.inode, seen.len());
}

/// Makes warm-up connections until the source reports one; returns their ports.
fn wait_until_attached(
    rt: &tokio::runtime::Runtime,
    ns: &NetnsThread,
    ip: IpAddr,
    rx: &mut Receiver<Batch>,
    seen: &mut Vec<TcpConnEvent>,
) -> HashSet<u16> {
    let mut ports = HashSet::new();
    for _ in 0..100 {
        let port = ns.run(move || support::one_connection(ip)).expect("warm-up connection");
        ports.insert(port);
        receive(rt, rx, seen, Duration::from_millis(200));
        if seen.iter().any(|e| e.netns == ns.inode && e.remote_port == port && e.kind == TcpEventKind::Connect) {
            // Client-side ports of warm-up connections are excluded as well.
            ports.extend(seen.iter().filter(|e| e.remote_port == port).map(|e| e.local_port));
            return ports;
        }
    }
    panic!("no event from the tcp source after 100 warm-up connections (is the program attached?)");
}

/// Collects batches for up to `wait`; panics with the source's error if it stopped.
fn receive(rt: &tokio::runtime::Runtime, rx: &mut Receiver<Batch>, seen: &mut Vec<TcpConnEvent>, wait: Duration) {
    let end = Instant::now() + wait;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match rt.block_on(async { tokio::time::timeout(left, rx.recv()).await }) {
            Ok(Some(batch)) => seen.extend(batch.into_iter().filter_map(|e| match e {
                Event::Tcp(t) => Some(t),
                _ => None,
            })),
            Ok(None) => panic!("the tcp source stopped sending (its error is printed above)"),
            Err(_) => return,
        }
    }
}

fn check(events: &[&TcpConnEvent], w: &Workload, ip: IpAddr, cgroup: u64) {
    let of = |k: TcpEventKind| events.iter().copied().filter(move |e| e.kind == k).collect::<Vec<_>>();
    let clients: HashSet<u16> = w.client_ports.iter().copied().collect();
    for e in events {
        assert_eq!((e.cgroup_id, e.comm.as_str()), (cgroup, THREAD_NAME), "owner of {e:?}");
        assert_eq!((e.local_addr, e.remote_addr), (ip, ip), "addresses of {e:?}");
        assert!(e.time_unix_nano > 1_600_000_000_000_000_000, "wall-clock time of {e:?}");
    }
    let (connects, accepts, closes, failed) =
        (of(TcpEventKind::Connect), of(TcpEventKind::Accept), of(TcpEventKind::Close), of(TcpEventKind::ConnectFailed));
    assert_eq!((connects.len(), accepts.len(), closes.len(), failed.len()), (N, N, 2 * N, 1), "connect, accept, close, failed");
    for e in &connects {
        assert_eq!(e.direction, Direction::Outbound);
        assert_eq!(e.remote_port, w.port);
        assert!(clients.contains(&e.local_port), "{e:?}");
        assert!(e.connect_latency_ns.is_some_and(|l| l > 0), "connect latency of {e:?}");
    }
    for e in &accepts {
        assert_eq!((e.direction, e.local_port), (Direction::Inbound, w.port));
        assert!(clients.contains(&e.remote_port), "{e:?}");
    }
    let (client_closes, server_closes): (Vec<&TcpConnEvent>, Vec<&TcpConnEvent>) =
        closes.iter().copied().partition(|e| e.remote_port == w.port);
    assert_eq!((client_closes.len(), server_closes.len()), (N, N), "client and server closes");
    for e in &client_closes {
        assert_eq!(e.direction, Direction::Outbound);
        assert!(clients.contains(&e.local_port), "{e:?}");
        assert!(e.connect_latency_ns.is_some() && e.duration_ns.is_some_and(|d| d > 0), "{e:?}");
    }
    for e in &server_closes {
        assert_eq!((e.direction, e.local_port), (Direction::Inbound, w.port));
        assert!(e.duration_ns.is_some_and(|d| d > 0), "{e:?}");
    }
    let f = failed[0];
    assert_eq!((f.remote_port, f.failed_state.as_deref()), (w.closed_port, Some("syn_sent")));
    assert_eq!(f.direction, Direction::Outbound);
    // Every connection's sockets pair up: one connect and one close per client socket.
    let connect_ids: HashSet<u64> = connects.iter().map(|e| e.sock_id).collect();
    assert!(client_closes.iter().all(|e| connect_ids.contains(&e.sock_id)), "close without its connect");
}
