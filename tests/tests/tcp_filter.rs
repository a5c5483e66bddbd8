//! Kernel-side filters of the `tcp` source, as root against the real kernel: an excluded
//! cgroup, comm or port produces no events and is counted as `filtered`, and the filter
//! changes while the program stays attached (no reload).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use kotel::config::ComponentId;
use kotel::event::TcpConnEvent;
use kotel::kernel::filter::KernelFilterConfig;
use kotel::sources::tcp::{TcpSource, TcpSourceConfig};
use kotel::telemetry::{self, names};
use kotel_integration_tests::harness::Attached;
use kotel_integration_tests::support::{self, FreshCgroup, NetnsThread};
use kotel_integration_tests::{is_root, skip};

const IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const N: usize = 10;

fn filtered() -> f64 {
    telemetry::snapshot().counter_sum(names::TCP_KERNEL_EVENTS, &[("stat", "filtered")])
}

/// A `filter:` value parsed by the agent's own config loader (the operator's syntax).
fn filter(yaml: &str) -> KernelFilterConfig {
    let pipeline = format!(
        "sources:\n  tcp: {{ filter: {yaml} }}\nexporters:\n  debug: {{}}\npipelines:\n  logs: {{ sources: [tcp], exporters: [debug] }}\n"
    );
    let config = kotel::config::parse_str(&pipeline, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    match config.sources.values().next() {
        Some(kotel::config::SourceConfig::Tcp(tcp)) => tcp.filter.clone(),
        other => panic!("unexpected {other:?}"),
    }
}

/// Makes `N` connections to one listener; returns its port.
fn connections(ns: &NetnsThread) -> u16 {
    ns.run(|| support::workload(IP, N)).expect("workload").port
}

fn events_for(source: &Attached, port: u16) -> usize {
    source
        .seen
        .iter()
        .filter(|e: &&TcpConnEvent| e.local_port == port || e.remote_port == port)
        .count()
}

/// Waits (bounded) until the kernel's `filtered` counter has grown past `before`, making a
/// probe connection now and then: proof that the new filter is in force.
fn until_filtering(ns: &NetnsThread, source: &mut Attached, before: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while filtered() <= before {
        assert!(Instant::now() < deadline, "the filter never took effect");
        ns.run(|| support::one_connection(IP)).expect("probe");
        source.receive(Duration::from_millis(300));
    }
}

#[test]
fn excluded_cgroups_comms_and_ports_are_dropped_in_the_kernel_and_counted_and_changes_need_no_reload(
) {
    if !is_root() {
        return skip("tcp_filter", "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let ns = NetnsThread::spawn().expect("creating a network namespace");
    let config = TcpSourceConfig {
        batch_timeout: Duration::from_millis(50),
        ..TcpSourceConfig::default()
    };
    let mut source = TcpSource::new(&"tcp/filtered".parse::<ComponentId>().unwrap(), &config);
    let control = source.filter_control();
    let mut source = Attached::start_source(&ns, IP, source);
    let cgroup = FreshCgroup::enter("filter").expect("a cgroup for the test");

    // 1. Exclude this cgroup: nothing of ours, and the kernel counts what it dropped.
    let before = filtered();
    control
        .send(filter(&format!(
            "{{ exclude: {{ cgroup_ids: [{}] }} }}",
            cgroup.id
        )))
        .unwrap();
    until_filtering(&ns, &mut source, before);
    let before = filtered();
    let port = connections(&ns);
    source.receive(Duration::from_secs(1));
    assert_eq!(events_for(&source, port), 0, "excluded cgroup reported");
    std::thread::sleep(Duration::from_millis(1200)); // the stats map is read every second
    source.receive(Duration::from_millis(100));
    assert!(
        filtered() - before >= (4 * N) as f64,
        "filtered grew by {} (want >= {})",
        filtered() - before,
        4 * N
    );

    // 2. Include only a comm nobody has: still nothing.
    control
        .send(filter("{ include: { comms: [kotel-nobody] } }"))
        .unwrap();
    let before = filtered();
    until_filtering(&ns, &mut source, before);
    let port = connections(&ns);
    source.receive(Duration::from_secs(1));
    assert_eq!(
        events_for(&source, port),
        0,
        "comm outside the include set reported"
    );

    // 3. Exclude one port: connections to it vanish, others are reported.
    let listener = std::sync::Arc::new(ns.run(|| std::net::TcpListener::bind((IP, 0))).unwrap());
    let blocked = listener.local_addr().unwrap().port();
    control
        .send(filter(&format!("{{ exclude: {{ ports: [{blocked}] }} }}")))
        .unwrap();
    let before = filtered();
    until_filtering_port(&ns, &mut source, before, &listener);
    let open = connections(&ns);
    source.collect_until(4 * N, |seen| {
        seen.iter()
            .filter(|e| e.local_port == open || e.remote_port == open)
            .count()
    });
    let leaked: Vec<&TcpConnEvent> = source
        .seen
        .iter()
        .filter(|e| e.local_port == blocked || e.remote_port == blocked)
        .collect();
    assert!(leaked.is_empty(), "excluded port reported: {leaked:#?}");
    assert_eq!(
        events_for(&source, open),
        4 * N,
        "other ports are still reported"
    );

    drop(cgroup);
    source.stop();
}

/// Like [`until_filtering`], with probes to the listener whose port is excluded.
fn until_filtering_port(
    ns: &NetnsThread,
    source: &mut Attached,
    before: f64,
    listener: &std::sync::Arc<std::net::TcpListener>,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while filtered() <= before {
        assert!(
            Instant::now() < deadline,
            "the port filter never took effect"
        );
        let l = listener.clone();
        ns.run(move || {
            let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (s, _) = l.accept().unwrap();
            drop((c, s));
        });
        source.receive(Duration::from_millis(300));
    }
}
