//! SIGTERM during a connection storm: a prompt, clean exit whose final collection reaches
//! the receiver with every connection made before the signal. SIGTERM while the exporter
//! waits out a retry backoff: the backoff is cut short.

use std::time::Duration;

use kotel_integration_tests::local_server::free_port;
use kotel_integration_tests::rotel::Rotel;

use super::agent::RunningAgent;
use super::stall::StallingBackend;
use super::storm::Storm;
use crate::{last_count, ready, wait_for};

/// `runtime.shutdown_timeout` in the test's pipeline.
const DEADLINE: Duration = Duration::from_secs(5);

#[test]
fn sigterm_under_load_exits_zero_within_the_deadline_with_the_final_flush_delivered() {
    const TEST: &str = "reliability_sigterm_under_load";
    if !ready(TEST) {
        return;
    }
    const MARKED: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    let rotel = Rotel::start(dir.path()).expect("rotel");
    let mut storm = Storm::bind();
    let marked = Storm::bind();
    // Collected every minute: within this test only the final collection at shutdown is.
    let yaml = format!(
        "sources:\n  tcp: {{ batch_timeout: 50ms, filter: {{ include: {{ ports: [{}, {}] }} }} }}\n\
         processors:\n  aggregate: {{ interval: 1m, peer: address }}\n\
         exporters:\n  otlp: {{ endpoint: \"{}\" }}\n\
         pipelines:\n  metrics: {{ sources: [tcp], processors: [aggregate], exporters: [otlp] }}\n\
         telemetry: {{ interval: 0s }}\n\
         runtime: {{ shutdown_timeout: {}s }}\n",
        storm.port,
        marked.port,
        rotel.grpc_endpoint(),
        DEADLINE.as_secs()
    );
    let mut agent = RunningAgent::start(dir.path(), &yaml, 0);
    storm.start(2, 1000);
    std::thread::sleep(Duration::from_secs(2));
    // Connections completed (both ends closed) right before the signal, the storm going on.
    marked.burst(MARKED);
    let storm_before = storm.made();
    let (status, took) = agent.sigterm(DEADLINE + Duration::from_secs(5));
    let storm_total = storm.stop();
    let log = agent.drain_log();

    let (port, storm_port) = (marked.port, storm.port);
    let received = rotel
        .wait_until(0, Duration::from_secs(5), |r| {
            last_count(r, "tcp.connection.closed", port, "outbound", None).is_some()
        })
        .unwrap_or_else(|e| panic!("the final collection did not arrive: {e}\n{log}"));
    let storm_counted = last_count(
        &received,
        "tcp.connection.opened",
        storm_port,
        "outbound",
        None,
    )
    .unwrap_or_default();
    eprintln!(
        "SIGTERM under load: exit {status} after {took:?} (deadline {DEADLINE:?}); storm: {storm_before} \
         connections before the signal, {storm_total} when the agent had exited, {storm_counted} counted"
    );
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(took < DEADLINE, "stopped after {took:?}");
    assert!(log.contains("shutdown complete"), "not a timeout:\n{log}");
    assert_eq!(
        received.metrics_named("tcp.connection.opened").count(),
        1,
        "one collection: the final one"
    );
    for (metric, direction) in [
        ("tcp.connection.opened", "outbound"),
        ("tcp.connection.opened", "inbound"),
        ("tcp.connection.closed", "outbound"),
        ("tcp.connection.closed", "inbound"),
    ] {
        assert_eq!(
            last_count(&received, metric, port, direction, None),
            Some(MARKED as f64),
            "{metric} {direction}"
        );
    }
    // The storm's connections: all those made before the signal, and no more than were
    // made until the agent exited.
    assert!(
        (storm_before as f64..=storm_total as f64).contains(&storm_counted),
        "{storm_counted} not in {storm_before}..={storm_total}"
    );
}

#[test]
fn sigterm_during_a_long_retry_backoff_does_not_wait_it_out() {
    const TEST: &str = "reliability_sigterm_in_backoff";
    if !ready(TEST) {
        return;
    }
    const BACKOFF: Duration = Duration::from_secs(5);
    let dir = tempfile::tempdir().unwrap();
    let storm = Storm::bind();
    let (nobody, prometheus) = (free_port().unwrap(), free_port().unwrap());
    let yaml = format!(
        "sources:\n  tcp: {{ batch_timeout: 50ms, filter: {{ include: {{ ports: [{}] }} }} }}\n\
         processors:\n  aggregate: {{ interval: 1s }}\n\
         exporters:\n  otlp: {{ endpoint: \"http://127.0.0.1:{nobody}\", retry: {{ initial_interval: {b}s, max_interval: {b}s, max_elapsed: 1m }} }}\n\
         \x20 prometheus: {{ listen: \"127.0.0.1:{prometheus}\" }}\n\
         pipelines:\n  metrics: {{ sources: [tcp], processors: [aggregate], exporters: [otlp, prometheus] }}\n\
         runtime: {{ shutdown_timeout: {}s }}\n",
        storm.port,
        DEADLINE.as_secs(),
        b = BACKOFF.as_secs(),
    );
    let mut agent = RunningAgent::start(dir.path(), &yaml, prometheus);
    storm.burst(3);
    // The first attempt failed: the sender now waits 5 to 7.5 s before the next.
    wait_for(Duration::from_secs(10), "a retry", || {
        agent.scrape().sum(
            "kotel_exporter_otlp_retries_total",
            &[("component_id", "otlp")],
        ) > 0.0
    });
    let (status, took) = agent.sigterm(DEADLINE + Duration::from_secs(5));
    let log = agent.drain_log();
    eprintln!("SIGTERM in a {BACKOFF:?} backoff: exit {status} after {took:?}");
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(took < Duration::from_secs(2), "waited {took:?}:\n{log}");
    assert!(log.contains("shutdown complete"), "not a timeout:\n{log}");
}

#[test]
fn sigterm_with_a_stalled_backend_and_a_full_queue_ends_within_the_shutdown_timeout() {
    const TEST: &str = "reliability_sigterm_stalled_backend";
    if !ready(TEST) {
        return;
    }
    /// The per-request timeout: the old flush waited one of these per queued request.
    const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    const QUEUED: f64 = 4.0;
    let dir = tempfile::tempdir().unwrap();
    let stalled = StallingBackend::start();
    let storm = Storm::bind();
    let prometheus = free_port().unwrap();
    let yaml = format!(
        "sources:\n  tcp: {{ batch_timeout: 50ms, filter: {{ include: {{ ports: [{}] }} }} }}\n\
         processors:\n  aggregate: {{ interval: 1s }}\n\
         exporters:\n  otlp: {{ endpoint: \"http://127.0.0.1:{}\", timeout: {}s, queue: {{ max_requests: 1000 }} }}\n\
         \x20 prometheus: {{ listen: \"127.0.0.1:{prometheus}\" }}\n\
         pipelines:\n  metrics: {{ sources: [tcp], processors: [aggregate], exporters: [otlp, prometheus] }}\n\
         runtime: {{ shutdown_timeout: {}s }}\n",
        storm.port,
        stalled.port,
        REQUEST_TIMEOUT.as_secs(),
        DEADLINE.as_secs(),
    );
    let mut agent = RunningAgent::start(dir.path(), &yaml, prometheus);
    storm.burst(3);
    let mut depth = 0.0;
    wait_for(
        Duration::from_secs(20),
        "a queue behind the stalled request",
        || {
            depth = agent.scrape().sum(
                "kotel_exporter_otlp_queue_requests",
                &[("component_id", "otlp")],
            );
            depth >= QUEUED
        },
    );
    let (status, took) = agent.sigterm(DEADLINE + Duration::from_secs(5));
    let log = agent.drain_log();
    let abandoned: f64 = log
        .split("queued=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no abandonment logged:\n{log}"));
    eprintln!(
        "SIGTERM with a stalled backend: {depth} requests queued, {abandoned} abandoned; exit {status} after {took:?} (shutdown_timeout {DEADLINE:?}, {REQUEST_TIMEOUT:?} per request)"
    );
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(took < DEADLINE, "stopped after {took:?}:\n{log}");
    assert!(
        took >= DEADLINE / 2,
        "the flush gave the backend its time: {took:?}"
    );
    assert!(log.contains("shutdown complete"), "not a timeout:\n{log}");
    assert!(
        abandoned >= depth,
        "{abandoned} abandoned, {depth} were queued"
    );
}
