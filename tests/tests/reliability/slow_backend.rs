//! A backend that accepts and completes HTTP/2 but never answers, next to the real
//! receiver, under a connection storm; then the same backend relays to the receiver.

use std::time::{Duration, Instant};

use kotel_integration_tests::local_server::free_port;
use kotel_integration_tests::rotel::Rotel;

use super::agent::RunningAgent;
use super::stall::StallingBackend;
use super::storm::Storm;
use crate::{
    ceiling_kib, last_count, ready, Ledger, Peak, QUEUE_BYTES, QUEUE_BYTES_GAUGE, TAKEN_IN,
};

/// The stalled exporter's per-request timeout, in seconds.
const TIMEOUT_S: f64 = 1.0;

#[test]
fn a_backend_that_accepts_and_never_answers_does_not_stall_the_agent() {
    const TEST: &str = "reliability_slow_backend";
    if !ready(TEST) {
        return;
    }
    const STALL: Duration = Duration::from_secs(15);
    let dir = tempfile::tempdir().unwrap();
    let rotel = Rotel::start(dir.path()).expect("rotel");
    let slow = StallingBackend::start();
    let mut storm = Storm::bind();
    let prometheus = free_port().unwrap();
    let exporter = |endpoint: String, name: &str, retry: &str| {
        format!(
            "{{ endpoint: \"{endpoint}\", timeout: {TIMEOUT_S}s, retry: {retry}, \
             queue: {{ max_requests: 1000, max_bytes: {QUEUE_BYTES} }}, resource: {{ exporter: {name} }} }}"
        )
    };
    let yaml = format!(
        "sources:\n  tcp: {{ batch_timeout: 50ms, metrics_interval: 5m, filter: {{ include: {{ ports: [{port}] }} }} }}\n\
         processors:\n  aggregate: {{ interval: 1s, peer: address }}\n\
         exporters:\n  otlp: {direct}\n  otlp/slow: {slow}\n  prometheus: {{ listen: \"127.0.0.1:{prometheus}\" }}\n\
         pipelines:\n  metrics: {{ sources: [tcp], processors: [aggregate], exporters: [otlp, otlp/slow, prometheus] }}\n\
         \x20 logs: {{ sources: [tcp], exporters: [otlp/slow] }}\n\
         telemetry: {{ interval: 0s }}\n",
        port = storm.port,
        direct = exporter(rotel.grpc_endpoint(), "direct", "{}"),
        slow = exporter(
            format!("http://127.0.0.1:{}", slow.port),
            "slow",
            "{ initial_interval: 100ms, max_interval: 200ms, max_elapsed: 2s }"
        ),
    );
    let mut agent = RunningAgent::start(dir.path(), &yaml, prometheus);
    let mut baseline = Peak::default();
    for _ in 0..10 {
        baseline.sample(&agent);
        std::thread::sleep(Duration::from_millis(100));
    }
    storm.start(2, 500);

    // The stall: the agent keeps serving, counting and exporting to the real receiver.
    let mut peak = Peak::default();
    let (mut deepest_queue, mut slowest_scrape) = (0.0f64, Duration::ZERO);
    let started = Instant::now();
    while started.elapsed() < STALL {
        peak.sample(&agent);
        let asked = Instant::now();
        let scrape = agent.scrape();
        slowest_scrape = slowest_scrape.max(asked.elapsed());
        deepest_queue =
            deepest_queue.max(scrape.sum(QUEUE_BYTES_GAUGE, &[("component_id", "otlp/slow")]));
        std::thread::sleep(Duration::from_millis(500));
    }
    let made = storm.stop();
    let port = storm.port;
    let direct = rotel
        .wait_until(0, Duration::from_secs(5), |r| {
            let count = |metric, direction| last_count(r, metric, port, direction, Some("direct"));
            count("tcp.connection.opened", "outbound") == Some(made as f64)
                && count("tcp.connection.closed", "outbound") == Some(made as f64)
        })
        .unwrap_or_else(|e| {
            let r = rotel.received();
            let count = |metric, direction| last_count(&r, metric, port, direction, Some("direct"));
            let scrape = agent.scrape().0;
            let lost: Vec<&str> = scrape
                .lines()
                .filter(|l| {
                    l.contains("dropped") || l.contains("lost") || l.contains("ringbuf_full")
                })
                .collect();
            panic!(
                "the direct exporter is behind while the other stalls: made {made}, opened {:?}, \
                 closed {:?}; {lost:#?}\n{e}",
                count("tcp.connection.opened", "outbound"),
                count("tcp.connection.closed", "outbound")
            )
        });
    let stalled = agent.scrape();
    let ledger = Ledger::of(&stalled, "otlp/slow");
    let retries = stalled.sum(
        "kotel_exporter_otlp_retries_total",
        &[("component_id", "otlp/slow")],
    );
    let waited_us = stalled.sum(
        "kotel_exporter_otlp_send_duration_us_total",
        &[("component_id", "otlp/slow")],
    );
    let kernel_events = stalled.sum(
        TAKEN_IN,
        &[("component_id", "tcp"), ("component_kind", "source")],
    );

    // Relayed to the real receiver: the slow exporter's data arrives, current.
    let switched = Instant::now();
    slow.forward_to(rotel.grpc_port());
    rotel
        .wait_until(0, Duration::from_secs(10), |r| {
            last_count(r, "tcp.connection.opened", port, "outbound", Some("slow"))
                == Some(made as f64)
        })
        .unwrap_or_else(|e| panic!("the slow exporter did not resume: {e}"));
    let resumed_after = switched.elapsed();
    let after = Ledger::of(&agent.scrape(), "otlp/slow");
    let (status, took) = agent.sigterm(Duration::from_secs(15));

    let ceiling = ceiling_kib(baseline.rss_kib, 2);
    eprintln!(
        "stalling backend {STALL:?}: {made} connections, {} connections accepted by it; \
         {retries} retried sends, {:.1} s spent sending, ledger {ledger:?}; deepest queue \
         {deepest_queue} bytes; RSS baseline {} KiB, peak {} KiB, ceiling {ceiling} KiB; slowest \
         scrape {slowest_scrape:?}; resumed {resumed_after:?} after the switch; stopped in {took:?}",
        slow.stalled_connections(),
        waited_us / 1e6,
        baseline.rss_kib,
        peak.rss_kib,
    );
    assert!(direct.metrics.len() > 1);
    assert_eq!(status.code(), Some(0));
    assert!(slow.stalled_connections() > 0, "the backend accepted");
    assert_eq!(ledger.sent, 0.0, "nothing answered, nothing sent");
    assert!(
        ledger.dropped > 0.0 && retries > 0.0,
        "{ledger:?}, {retries} retries"
    );
    // Every retried attempt waited out the timeout: none failed fast.
    assert!(
        waited_us / 1e6 >= 0.9 * TIMEOUT_S * retries,
        "{retries} retries but only {waited_us} µs spent waiting"
    );
    assert_eq!(
        kernel_events,
        4.0 * made as f64,
        "every connection's four kernel events were taken in"
    );
    assert!(
        slowest_scrape < Duration::from_secs(1),
        "scrape took {slowest_scrape:?}"
    );
    assert!(
        deepest_queue <= QUEUE_BYTES as f64,
        "{deepest_queue} bytes queued"
    );
    assert!(
        peak.rss_kib <= ceiling,
        "RSS {} KiB over the ceiling {ceiling} KiB",
        peak.rss_kib
    );
    assert!(after.sent > 0.0, "the slow exporter sends again: {after:?}");
}
