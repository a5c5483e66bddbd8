//! The receiver away for 30 s under a continuous connection storm, then back.

use std::time::{Duration, Instant};

use kotel_integration_tests::local_server::free_port;
use kotel_integration_tests::rotel::Rotel;

use super::agent::{RunningAgent, Scrape};
use super::storm::Storm;
use crate::{
    ceiling_kib, data_points, last_count, ready, wait_for, Ledger, Peak, QUEUE_BYTES,
    QUEUE_BYTES_GAUGE, SENT, SENT_BYTES,
};

/// What reconciles, exactly, once the storm has stopped and the queues are empty:
/// - log records: 4 kernel events per connection made (connect, accept, two closes) =
///   records the logs exporter took in = records the receiver printed (= counted sent) +
///   records counted dropped (`kotel.exporter.otlp.dropped`, every reason);
/// - connections: the receiver's last cumulative `tcp.connection.opened`/`closed` for the
///   storm's port = connections made (what dropped requests held, later points carry);
/// - metric points the receiver printed = points counted sent.
///
/// Memory: peak RSS during the outage <= RSS before it + what two full queues take in
/// memory + allocator slack ([`crate::ceiling_kib`]); the test checks that an unbounded
/// queue would have needed more, so it can fail.
#[test]
fn a_long_receiver_outage_keeps_memory_bounded_counts_every_drop_and_resumes() {
    const TEST: &str = "reliability_receiver_outage";
    if !ready(TEST) {
        return;
    }
    const OUTAGE: Duration = Duration::from_secs(30);
    let dir = tempfile::tempdir().unwrap();
    let (metrics_dir, logs_dir) = (dir.path().join("metrics"), dir.path().join("logs"));
    std::fs::create_dir_all(&metrics_dir).unwrap();
    std::fs::create_dir_all(&logs_dir).unwrap();
    // Two receivers: the metrics one is parsed often, the logs one (thousands of records a
    // second) once at the end.
    let mut metrics_rx = Rotel::start(&metrics_dir).expect("rotel");
    let mut logs_rx = Rotel::start(&logs_dir).expect("rotel");
    let mut storm = Storm::bind();
    let prometheus = free_port().unwrap();
    let exporter = |endpoint: String| {
        format!(
            "{{ endpoint: \"{endpoint}\", timeout: 500ms, \
             retry: {{ initial_interval: 100ms, max_interval: 200ms, max_elapsed: 1s }}, \
             queue: {{ max_requests: 1000, max_bytes: {QUEUE_BYTES} }} }}"
        )
    };
    let yaml = format!(
        "sources:\n  tcp: {{ batch_timeout: 50ms, metrics_interval: 5m, filter: {{ include: {{ ports: [{port}] }} }} }}\n\
         processors:\n  aggregate: {{ interval: 1s, peer: address }}\n\
         exporters:\n  otlp: {metrics}\n  otlp/logs: {logs}\n  prometheus: {{ listen: \"127.0.0.1:{prometheus}\" }}\n\
         pipelines:\n  metrics: {{ sources: [tcp], processors: [aggregate], exporters: [otlp, prometheus] }}\n\
         \x20 logs: {{ sources: [tcp], exporters: [otlp/logs] }}\n\
         telemetry: {{ interval: 0s }}\n",
        port = storm.port,
        metrics = exporter(metrics_rx.grpc_endpoint()),
        logs = exporter(logs_rx.grpc_endpoint()),
    );
    let mut agent = RunningAgent::start(dir.path(), &yaml, prometheus);
    storm.start(2, 500);

    // Flowing: both receivers get data.
    metrics_rx
        .wait_until(0, Duration::from_secs(15), |r| {
            last_count(r, "tcp.connection.opened", storm.port, "outbound", None).is_some()
        })
        .unwrap_or_else(|e| panic!("no data before the outage: {e}"));
    let sent_logs = |s: &Scrape| s.sum(SENT, &[("component_id", "otlp/logs")]);
    wait_for(
        Duration::from_secs(10),
        "logs sent before the outage",
        || sent_logs(&agent.scrape()) > 0.0,
    );
    // The baseline: the agent at this load with the receivers there, settled.
    let mut baseline = Peak::default();
    for _ in 0..20 {
        baseline.sample(&agent);
        std::thread::sleep(Duration::from_millis(100));
    }

    metrics_rx.stop().unwrap();
    logs_rx.stop().unwrap();
    let made_before_outage = storm.made();
    let mut peak = Peak::default();
    let mut deepest_queue: f64 = 0.0;
    let outage = Instant::now();
    while outage.elapsed() < OUTAGE {
        peak.sample(&agent);
        let scrape = agent.scrape();
        deepest_queue = deepest_queue.max(scrape.sum(QUEUE_BYTES_GAUGE, &[]));
        std::thread::sleep(Duration::from_millis(500));
    }
    let during = agent.scrape();
    let made_in_outage = storm.made() - made_before_outage;

    // Back: the next request goes through within a backoff step or so.
    let mark = metrics_rx.mark();
    let back = Instant::now();
    metrics_rx.start_again().unwrap();
    logs_rx.start_again().unwrap();
    let port = storm.port;
    metrics_rx
        .wait_until(mark, Duration::from_secs(10), |r| {
            last_count(r, "tcp.connection.opened", port, "outbound", None).is_some()
        })
        .unwrap_or_else(|e| panic!("export did not resume: {e}"));
    let resumed_after = back.elapsed();

    // Quiet: every connection made is in the receiver's cumulative counts, and every
    // record that entered the logs exporter is at the receiver or counted dropped.
    let made = storm.stop();
    let received = metrics_rx
        .wait_until(mark, Duration::from_secs(20), |r| {
            last_count(r, "tcp.connection.closed", port, "inbound", None) == Some(made as f64)
        })
        .unwrap_or_else(|e| panic!("the counts did not reach {made}: {e}"));
    let mut end = agent.scrape();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Ledger::of(&end, "otlp/logs").balanced() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        end = agent.scrape();
    }
    // The metrics exporter sends every second: compare between two sends.
    let mut points_at_receiver = 0;
    let mut metrics_ledger = Ledger::of(&end, "otlp");
    for _ in 0..50 {
        points_at_receiver = data_points(&metrics_rx.received());
        let again = Ledger::of(&agent.scrape(), "otlp");
        let settled = again.sent == metrics_ledger.sent;
        metrics_ledger = again;
        if settled && points_at_receiver as f64 == metrics_ledger.sent {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent_bytes = end.sum(SENT_BYTES, &[("component_id", "otlp/logs")]);
    let (status, took) = agent.sigterm(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));

    let logs_at_receiver = logs_rx.logs().len() as f64;
    let ledger = Ledger::of(&end, "otlp/logs");
    let dropped_in_outage = Ledger::of(&during, "otlp/logs").dropped;
    let ceiling = ceiling_kib(baseline.rss_kib, 2);
    eprintln!(
        "receiver outage {OUTAGE:?}: {made_in_outage} connections made during it ({made} in all); \
         RSS baseline {} KiB, peak {} KiB, ceiling {ceiling} KiB; deepest queue {deepest_queue} bytes; \
         logs: {ledger:?}, {:.0} encoded bytes a record; metrics: {metrics_ledger:?}; resumed {resumed_after:?} after the receiver; \
         stopped in {took:?}",
        baseline.rss_kib, peak.rss_kib, sent_bytes / ledger.sent
    );
    for (component, ledger) in [("otlp/logs", &ledger), ("otlp", &metrics_ledger)] {
        assert!(
            ledger.dropped > 0.0,
            "{component}: drops counted: {ledger:?}"
        );
    }
    assert!(
        dropped_in_outage > 0.0,
        "the logs exporter counted drops while the receiver was away"
    );
    // Without the bound, what was dropped would have been kept: the load must make that
    // more than the ceiling allows, or this test could not fail.
    let unbounded_kib = (ledger.dropped * sent_bytes / ledger.sent / 1024.0) as u64;
    assert!(
        unbounded_kib > ceiling - baseline.rss_kib,
        "too little load: an unbounded queue would have grown by {unbounded_kib} KiB only"
    );
    assert!(
        peak.rss_kib <= ceiling,
        "RSS {} KiB over the ceiling {ceiling} KiB (baseline {} KiB)",
        peak.rss_kib,
        baseline.rss_kib
    );
    let bytes_bound = 2.0 * QUEUE_BYTES as f64;
    assert!(
        deepest_queue <= bytes_bound,
        "both queues together held {deepest_queue} bytes"
    );
    assert!(
        resumed_after < Duration::from_secs(5),
        "resumed {resumed_after:?} after the receiver came back"
    );
    assert_eq!(
        last_count(&received, "tcp.connection.opened", port, "outbound", None),
        Some(made as f64),
        "the cumulative count carries what dropped requests held"
    );
    // The ledgers: what entered the logs exporter = at the receiver + counted dropped.
    assert_eq!(
        ledger.taken_in,
        4.0 * made as f64,
        "four kernel events a connection"
    );
    assert_eq!(ledger.queued, 0.0, "{ledger:?}");
    assert_eq!(ledger.taken_in, ledger.sent + ledger.dropped, "{ledger:?}");
    assert_eq!(logs_at_receiver, ledger.sent, "what the receiver printed");
    assert_eq!(
        points_at_receiver as f64, metrics_ledger.sent,
        "every metric point counted as sent was received"
    );
}
