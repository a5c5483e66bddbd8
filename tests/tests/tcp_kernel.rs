//! The `tcp` source against the real kernel, as root: attach the real program, make loopback
//! connections inside a network namespace this test creates, and assert the exact events
//! (filtered by this process's pid and the namespace's inode).
//!
//! Without root the tests print why and return (skip). `scripts/test.sh` runs them as root.

#[path = "tcp_kernel/checks.rs"]
mod checks;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use kotel::component::{Shutdown, Source, SourceOutput};
use kotel::config::ComponentId;
use kotel::event::{TcpConnEvent, TcpEventKind};
use kotel::sources::tcp::{TcpSource, TcpSourceConfig};
use kotel_integration_tests::{harness, is_root, skip, support};
use support::{NetnsThread, Workload};

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

/// Attach, see no particular traffic, shut down: returns `Ok(())` promptly (detaching).
#[test]
fn shutdown_without_traffic_is_prompt() {
    if !is_root() {
        return skip(
            "shutdown_without_traffic",
            "loading kernel programs needs root",
        );
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (out, _rx) = SourceOutput::for_test(16);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let id: ComponentId = "tcp/idle".parse().unwrap();
    let source = Box::new(TcpSource::new(&id, &TcpSourceConfig::default()));
    let task = rt.spawn(source.run(out, Shutdown::new(stop_rx)));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !task.is_finished(),
        "the source stopped on its own: {:?}",
        rt.block_on(task)
    );
    let asked = Instant::now();
    stop.send(true).unwrap();
    let result = rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), task).await });
    result
        .expect("stops within 2 s")
        .expect("task")
        .expect("Ok(()) after shutdown");
    eprintln!(
        "shutdown_without_traffic: stopped {:?} after the request",
        asked.elapsed()
    );
}

fn run_case(name: &str, ip: IpAddr) {
    if !is_root() {
        return skip(name, "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let ns = NetnsThread::spawn().expect("creating a network namespace");
    if !ns.run(move || support::can_bind(ip)) {
        return skip(
            name,
            &format!("{ip} is not available in a new network namespace"),
        );
    }
    let mut source = harness::Attached::start(&ns, ip);
    // The workload runs from a cgroup of its own, so the owner's cgroup id is one that no
    // other process has (the test would otherwise sit in the root cgroup, id 1).
    let fresh = support::FreshCgroup::enter(name).expect("creating a cgroup2 child for the test");
    let cgroup = support::own_cgroup_id().expect("own cgroup id");
    assert_ne!(cgroup, 1, "the test runs in a fresh cgroup, not the root");
    let w: Workload = ns.run(move || support::workload(ip, N)).expect("workload");
    drop(fresh);
    let warmup_ports = source.warmup_ports.clone();
    let mine = |e: &TcpConnEvent| {
        e.netns == ns.inode
            && e.pid == std::process::id()
            && !warmup_ports.contains(&e.local_port)
            && !warmup_ports.contains(&e.remote_port)
            && (e.local_port == w.port || e.remote_port == w.port || e.remote_port == w.closed_port)
    };
    source.collect_until(4 * N + 1, |seen| seen.iter().filter(|e| mine(e)).count());
    let seen = source.stop();

    let events: Vec<&TcpConnEvent> = seen.iter().filter(|e| mine(e)).collect();
    for kind in [
        TcpEventKind::Connect,
        TcpEventKind::Accept,
        TcpEventKind::Close,
        TcpEventKind::ConnectFailed,
    ] {
        if let Some(e) = events.iter().find(|e| e.kind == kind) {
            eprintln!("{name}: e.g. {}", serde_json::to_string(e).unwrap());
        }
    }
    checks::check(&events, &w, ip, cgroup, N);
    checks::check_self_telemetry(N);
    eprintln!(
        "{name}: {} events in netns {} checked ({} seen in total)",
        events.len(),
        ns.inode,
        seen.len()
    );
}
