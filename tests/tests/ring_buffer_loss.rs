//! Loss accounting of the `tcp` source, as root against the real kernel: a burst of
//! connections into the smallest ring buffer the config allows (4 KiB, about 23 records)
//! loses events, and every one of them is counted: events made = events the source
//! delivered + `kotel.ebpf.ringbuf.lost` + decode errors + pipeline drops, exactly.
//!
//! The source keeps only this test's cgroup in the kernel (`filter.include.cgroup_ids`),
//! so other traffic on the machine neither takes ring space nor enters the counts. Each
//! connection makes four events (connect, accept, and a close on each end), all carrying
//! the burst listener's port.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use kotel::config::ComponentId;
use kotel::kernel::filter::{KernelFilterConfig, KernelMatch};
use kotel::sources::tcp::{TcpSource, TcpSourceConfig};
use kotel::telemetry::{self, names};
use kotel_integration_tests::harness::Attached;
use kotel_integration_tests::support::{self, FreshCgroup, NetnsThread};
use kotel_integration_tests::{is_root, skip};

const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SOURCE: &str = "tcp/ring_loss";
const CLIENT_THREADS: usize = 4;
const CONNECTIONS: usize = 4000;
const EVENTS_PER_CONNECTION: usize = 4;

/// Everything counted as lost for this source so far: kernel reserve failures, records
/// that did not decode, and batches the test output dropped.
fn counted_lost() -> f64 {
    let t = telemetry::snapshot();
    t.counter_sum(names::RINGBUF_LOST, &[("source", SOURCE)])
        + t.counter_sum(names::DECODE_ERRORS, &[("source", SOURCE)])
        + t.counter_sum(names::EVENTS_DROPPED, &[("component_id", "test")])
}

/// `CONNECTIONS` connections from `CLIENT_THREADS` threads to one listener, as fast as
/// they go (connect, ping, pong, both ends close); returns the listener's port.
fn burst() -> u16 {
    let listener = TcpListener::bind((IP, 0)).expect("bind");
    let addr = listener.local_addr().expect("address");
    let clients: Vec<_> = (0..CLIENT_THREADS)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..CONNECTIONS / CLIENT_THREADS {
                    let mut c = TcpStream::connect(addr).expect("connect");
                    let mut buf = [0u8; 4];
                    c.write_all(b"ping").expect("ping");
                    c.read_exact(&mut buf).expect("pong");
                }
            })
        })
        .collect();
    for _ in 0..CONNECTIONS {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).expect("ping");
        s.write_all(b"pong").expect("pong");
    }
    for c in clients {
        c.join().expect("client thread");
    }
    addr.port()
}

#[test]
fn every_event_lost_to_a_full_ring_buffer_is_counted() {
    if !is_root() {
        return skip("ring_buffer_loss", "needs root to load eBPF programs");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let cgroup = FreshCgroup::enter("ring-loss").expect("creating a cgroup2 child for the test");
    let ns = NetnsThread::spawn().expect("network namespace");
    let config = TcpSourceConfig {
        ring_buffer_bytes: 4096,
        wakeup_bytes: 2048,
        batch_timeout: Duration::from_millis(50),
        filter: KernelFilterConfig {
            include: KernelMatch {
                cgroup_ids: vec![cgroup.id],
                ..KernelMatch::default()
            },
            ..KernelFilterConfig::default()
        },
        ..TcpSourceConfig::default()
    };
    let id: ComponentId = SOURCE.parse().unwrap();
    let mut source = Attached::start_source(&ns, IP, TcpSource::new(&id, &config));
    // What the warm-up made has been read and its kernel counters polled (every second).
    source.receive(Duration::from_millis(1500));
    let lost_before = counted_lost();

    let started = Instant::now();
    let port = ns.run(burst);
    let made = CONNECTIONS * EVENTS_PER_CONNECTION;
    let ours = |source: &Attached| {
        source
            .seen
            .iter()
            .filter(|e| e.netns == ns.inode && (e.local_port == port || e.remote_port == port))
            .count()
    };
    // Until the identity holds (the stats poll lags up to a second) or 10 s pass.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        source.receive(Duration::from_millis(300));
        if ours(&source) + (counted_lost() - lost_before) as usize >= made {
            break;
        }
    }
    source.receive(Duration::from_millis(1200)); // anything late would break the identity
    let lost = counted_lost() - lost_before;
    let seen = ours(&source);
    eprintln!(
        "ring_buffer_loss: {CONNECTIONS} connections in {:?}: made {made}, seen {seen}, counted lost {lost}",
        started.elapsed()
    );
    drop(source.stop());
    assert!(
        lost > 0.0,
        "a 4 KiB ring buffer lost nothing in a burst of {made} events: the test did not force loss"
    );
    assert_eq!(
        seen + lost as usize,
        made,
        "made {made} != seen {seen} + counted lost {lost}"
    );
}
