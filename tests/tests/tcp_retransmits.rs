//! Retransmits, resets and bytes on close events and in per-cgroup counters, as root:
//! - retransmits: a connection across a veth pair whose client end drops everything
//!   (`blackhole` qdisc) for a while; kotel's count must equal `TCP_INFO.tcpi_total_retrans`
//!   on the close event and in the cgroup's `TcpCounters`;
//! - resets: a server closing with unread data (sends RST) and a refused connect;
//! - bytes: a connection moving a known number of bytes each way.

#[path = "tcp_quality/net.rs"]
mod net;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use kotel::config::ComponentId;
use kotel::event::{TcpConnEvent, TcpConnStats, TcpCounters, TcpEventKind};
use kotel::sources::tcp::{TcpSource, TcpSourceConfig};
use kotel_integration_tests::harness::{Attached, Stopped};
use kotel_integration_tests::support::{self, FreshCgroup, NetnsThread};
use kotel_integration_tests::{is_root, skip};
use net::{tcp_info, VethPair};

const INTERVAL: Duration = Duration::from_millis(500);
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn start(ns: &NetnsThread, name: &str) -> Attached {
    let config = TcpSourceConfig {
        batch_timeout: Duration::from_millis(50),
        metrics_interval: INTERVAL,
        ..TcpSourceConfig::default()
    };
    let id: ComponentId = format!("tcp/{name}").parse().unwrap();
    Attached::start_source(ns, LOOPBACK, TcpSource::new(&id, &config))
}

/// Waits two intervals (the last one is read), stops the source.
fn finish(source: Attached) -> Stopped {
    thread::sleep(INTERVAL * 2);
    source.stop_all()
}

/// The close (or failed connect) event of the socket bound to `local` port and
/// connected to `remote` port.
fn close_of(seen: &[TcpConnEvent], local: u16, remote: u16) -> &TcpConnEvent {
    seen.iter()
        .find(|e| {
            matches!(e.kind, TcpEventKind::Close | TcpEventKind::ConnectFailed)
                && e.local_port == local
                && e.remote_port == remote
        })
        .unwrap_or_else(|| panic!("no close event {local} -> {remote}"))
}

fn stats(e: &TcpConnEvent) -> &TcpConnStats {
    e.stats.as_ref().expect("close events carry stats")
}

/// The cgroup's counters summed over every interval.
fn totals(counters: &[TcpCounters], cgroup: u64) -> (u64, u64, u64) {
    counters
        .iter()
        .filter(|c| c.cgroup_id == cgroup)
        .fold((0, 0, 0), |(r, s, v), c| {
            (r + c.retransmits, s + c.resets_sent, v + c.resets_received)
        })
}

#[test]
fn retransmits_while_the_path_drops_are_counted_per_connection_and_per_cgroup() {
    if !is_root() {
        return skip("tcp_retransmits", "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let pair = VethPair::new().expect("two namespaces and a veth pair (iproute2)");
    let source = start(&pair.client, "retransmits");
    let cgroup = FreshCgroup::enter("retransmits").expect("a cgroup for the test");
    let (mut client, server) = pair.connect(|mut conn| {
        let mut buf = [0u8; 100];
        for answer in [b"a", b"b"] {
            conn.read_exact(&mut buf).unwrap();
            conn.write_all(answer).unwrap();
        }
        assert_eq!(conn.read(&mut buf).unwrap(), 0, "EOF");
    });
    let port = client.peer_addr().unwrap().port();
    let client_port = client.local_addr().unwrap().port();
    let mut answer = [0u8; 1];
    client.write_all(&[1; 100]).unwrap();
    client.read_exact(&mut answer).unwrap();

    // Everything the client sends is dropped for 1.5 s: the segment is retransmitted (a
    // tail loss probe, then RTOs) until one gets through after the qdisc is gone.
    pair.qdisc("add", &["root", "blackhole"])
        .expect("blackhole");
    client.write_all(&[2; 100]).unwrap();
    thread::sleep(Duration::from_millis(1500));
    pair.qdisc("del", &["root"])
        .expect("removing the blackhole");
    client.read_exact(&mut answer).unwrap();
    let info = tcp_info(&client).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    server.join().unwrap();
    drop(client);
    let cgroup_id = cgroup.id;
    drop(cgroup);
    let stopped = finish(source);

    let want = info.tcpi_total_retrans;
    assert!(want >= 2, "the blackhole caused retransmits ({want})");
    let close = close_of(&stopped.seen, client_port, port);
    assert_eq!(close.cgroup_id, cgroup_id, "{close:?}");
    let s = stats(close);
    eprintln!("tcp_retransmits: TCP_INFO total_retrans {want}; close event {s:?}");
    assert_eq!(s.retransmits, want, "per connection: {close:?}");
    let server_close = close_of(&stopped.seen, port, client_port);
    let (retransmits, _, _) = totals(&stopped.counters, cgroup_id);
    assert_eq!(
        retransmits,
        u64::from(want + stats(server_close).retransmits),
        "per cgroup: {:?}",
        stopped.counters
    );
    // The kernel's counters (TCP_INFO bytes_acked / bytes_received): sequence space, so
    // the outbound SYN and each FIN count as one byte.
    assert_eq!(s.bytes_sent, 200 + 2, "SYN, 200 bytes and FIN acknowledged");
    assert_eq!(s.bytes_received, 2 + 1, "2 bytes and the FIN");
    assert!(s.srtt_us > 0 && s.min_rtt_us > 0, "{s:?}");
    assert!(
        s.min_rtt_us <= s.srtt_us + 1,
        "min <= smoothed (µs truncation): {s:?}"
    );
}

#[test]
fn resets_sent_and_received_are_counted() {
    if !is_root() {
        return skip("tcp_resets", "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let ns = NetnsThread::spawn().expect("a network namespace");
    let source = start(&ns, "resets");
    let cgroup = FreshCgroup::enter("resets").expect("a cgroup for the test");
    let (port, client_port, refused) = ns.run(|| {
        let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(b"never read").unwrap();
        thread::sleep(Duration::from_millis(50));
        drop(server); // unread data: the kernel answers with a reset
        let mut buf = [0u8; 8];
        let err = client
            .read(&mut buf)
            .expect_err("the reset reaches the client");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
        let refused = TcpListener::bind((LOOPBACK, 0))
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(
            TcpStream::connect(refused).is_err(),
            "nothing listens there"
        );
        let port = listener.local_addr().unwrap().port();
        (port, client.local_addr().unwrap().port(), refused.port())
    });
    let cgroup_id = cgroup.id;
    drop(cgroup);
    let stopped = finish(source);

    let client = stats(close_of(&stopped.seen, client_port, port)).clone();
    assert_eq!(client.resets_received, 1, "{client:?}");
    let failed = stopped
        .seen
        .iter()
        .find(|e| e.kind == TcpEventKind::ConnectFailed && e.remote_port == refused)
        .expect("the refused connect");
    assert_eq!(stats(failed).resets_received, 1, "{failed:?}");
    let (_, sent, received) = totals(&stopped.counters, cgroup_id);
    // The refused connect's reset came from no socket: it counts under cgroup 0.
    assert_eq!((sent, received), (1, 2), "{:?}", stopped.counters);
}

#[test]
fn close_events_carry_the_bytes_moved_each_way() {
    if !is_root() {
        return skip("tcp_bytes", "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    const UP: usize = 1_000_000;
    const DOWN: usize = 12_345;
    let ns = NetnsThread::spawn().expect("a network namespace");
    let source = start(&ns, "bytes");
    let (server_addr, client_addr, retransmitted) = ns.run(|| {
        let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            server.read_to_end(&mut got).unwrap();
            server.write_all(&vec![7; DOWN]).unwrap();
            server.shutdown(Shutdown::Write).unwrap();
            (got.len(), server)
        });
        client.write_all(&vec![9; UP]).unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut down = Vec::new();
        client.read_to_end(&mut down).unwrap();
        let (up, server) = reader.join().unwrap();
        assert_eq!((up, down.len()), (UP, DOWN));
        // Loopback rarely retransmits, but a slow (emulated) machine can fire a tail-loss
        // probe: the kernel's own count is the truth to compare with.
        let retransmitted = [&client, &server].map(|s| tcp_info(s).unwrap().tcpi_total_retrans);
        let server_addr: SocketAddr = listener.local_addr().unwrap();
        (server_addr, client.local_addr().unwrap(), retransmitted)
    });
    let stopped = finish(source);
    let client = stats(close_of(
        &stopped.seen,
        client_addr.port(),
        server_addr.port(),
    ))
    .clone();
    let server = stats(close_of(
        &stopped.seen,
        server_addr.port(),
        client_addr.port(),
    ))
    .clone();
    eprintln!("tcp_bytes: client {client:?}, server {server:?}");
    // Sequence space, as TCP_INFO counts it: each FIN is one more byte each way, and the
    // connecting side's SYN one more sent (the accepting side's SYN-ACK is not counted).
    assert_eq!(
        (client.bytes_sent, client.bytes_received),
        (UP as u64 + 2, DOWN as u64 + 1)
    );
    assert_eq!(
        (server.bytes_sent, server.bytes_received),
        (DOWN as u64 + 1, UP as u64 + 1)
    );
    assert_eq!(
        [client.retransmits, server.retransmits],
        retransmitted,
        "the kernel's TCP_INFO total_retrans of the client and the server"
    );
}
