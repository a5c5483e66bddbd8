//! The exporters against real receivers, as root (the real tcp and exec sources run
//! in-process with the real aggregate processor and exporters):
//!
//! - rotel receives OTLP over gRPC and over HTTP/protobuf: every connection metric has
//!   the right type, unit, temporality and attributes, and the counts and durations of
//!   the connections this test made, exactly; the kernel histograms arrive as exponential
//!   histograms; the exec of a marker command and the open of a watched file arrive as
//!   log records on both transports.
//! - Through a mutual-TLS terminator (socat) both transports deliver with the client
//!   certificate and deliver nothing without it (counted as retried or dropped, never as
//!   sent).
//! - Prometheus scrapes the endpoint and its query API returns this test's counts.
//! - rotel goes away for a while and comes back: the agent keeps running, the queue stays
//!   within its bound, what it dropped is counted, and data flows again afterwards.
//!
//! Needs `scripts/setup-receivers.sh` (rotel, Prometheus); skipped, saying so, without it.

mod export_receivers {
    pub mod tls;
    pub mod traffic;
}

use std::time::Duration;

use export_receivers::tls::{Pki, TlsProxy};
use export_receivers::traffic::{self, Traffic};
use kotel::telemetry::names;
use kotel_integration_tests::agent::Agent;
use kotel_integration_tests::containerd::ScratchDir;
use kotel_integration_tests::prometheus::Prometheus;
use kotel_integration_tests::rotel::{self, MetricKind, PointValue, Rotel, Temporality};
use kotel_integration_tests::{is_root, skip};

fn ready(test: &str) -> bool {
    if !is_root() {
        skip(test, "the tcp and exec sources need root");
        return false;
    }
    if let Err(why) = rotel::available().and(kotel_integration_tests::prometheus::available()) {
        skip(test, &why);
        return false;
    }
    true
}

/// tcp -> aggregate -> the given exporters, collected every `interval`, plus `more`
/// sources (YAML lines under `sources:`).
fn pipeline(exporters: &str, names: &str, interval: &str, more: &str) -> String {
    format!(
        "sources:\n  tcp: {{ batch_timeout: 50ms, metrics_interval: 1s }}\n{more}\
         processors:\n  aggregate: {{ interval: {interval}, peer: address }}\n\
         exporters:\n{exporters}\
         pipelines:\n  metrics: {{ sources: [tcp], processors: [aggregate], exporters: [{names}] }}\n"
    )
}

#[test]
fn otlp_over_grpc_and_http_delivers_exact_connection_metrics_and_security_logs() {
    const TEST: &str = "export_otlp_grpc_and_http";
    if !ready(TEST) {
        return;
    }
    let scratch = ScratchDir::new("otlp").unwrap();
    let rotel = Rotel::start(scratch.path()).expect("rotel");
    let exporters = format!(
        "  otlp: {{ endpoint: \"{}\" }}\n  otlp/http: {{ endpoint: \"{}\", protocol: http/protobuf, compression: gzip }}\n",
        rotel.grpc_endpoint(),
        rotel.http_endpoint()
    );
    let watched = scratch.path().join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    let more = format!(
        "  exec: {{ batch_timeout: 50ms }}\n  file_open: {{ paths: [\"{}/\"], batch_timeout: 50ms }}\n",
        watched.display()
    );
    let yaml = pipeline(&exporters, "otlp, otlp/http", "1s", &more)
        + "  logs: { sources: [exec, file_open], exporters: [otlp, otlp/http] }\n";
    let mut agent = Agent::start_exporting(&yaml);
    traffic::wait_until_attached();

    let made = Traffic::run(5, Duration::from_millis(40));
    let marker = format!("kotel-marker-{}", std::process::id());
    let _ = std::process::Command::new("/bin/echo")
        .arg(&marker)
        .output();
    let secret = watched.join(&marker);
    std::fs::write(&secret, b"x").unwrap();

    let port = made.port.to_string();
    let outbound = [("server.port", port.as_str()), ("direction", "outbound")];
    let inbound = [("server.port", port.as_str()), ("direction", "inbound")];
    let received = rotel
        .wait_until(0, Duration::from_secs(20), |r| {
            let complete = r
                .metrics_named("tcp.connection.closed")
                .filter(|m| {
                    m.points
                        .iter()
                        .any(|p| p.has_attributes(&inbound) && p.value.as_f64() == Some(5.0))
                })
                .count();
            complete >= 2 && r.logs.iter().filter(|l| l.body.contains(&marker)).count() >= 4
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", rotel.output_tail()));
    agent.stop();

    // Both transports delivered: every series twice (once per exporter) with the same value.
    let opened = received
        .last_metric("tcp.connection.opened")
        .cloned()
        .unwrap();
    assert_eq!(opened.kind, MetricKind::Sum);
    assert_eq!(
        (opened.monotonic, opened.temporality),
        (Some(true), Some(Temporality::Cumulative))
    );
    assert_eq!(opened.unit, "{connection}");
    assert_eq!(
        opened.resource.get("service.name").map(String::as_str),
        Some("kotel")
    );
    for (metric, attributes, expected) in [
        ("tcp.connection.opened", &outbound, 5.0),
        ("tcp.connection.opened", &inbound, 5.0),
        ("tcp.connection.closed", &outbound, 5.0),
        ("tcp.connection.closed", &inbound, 5.0),
        ("tcp.connection.open", &outbound, 0.0),
    ] {
        let instances: Vec<_> = received.metrics_named(metric).collect();
        let values: Vec<f64> = instances
            .into_iter()
            .rev()
            .take(2)
            .filter_map(|m| m.points.iter().find(|p| p.has_attributes(attributes)))
            .filter_map(|p| p.value.as_f64())
            .collect();
        assert_eq!(values, [expected, expected], "{metric} {attributes:?}");
    }
    let duration = received.last_metric("tcp.connection.duration").unwrap();
    assert_eq!(
        (duration.kind, duration.unit.as_str()),
        (MetricKind::Histogram, "s")
    );
    let point = duration
        .points
        .iter()
        .find(|p| p.has_attributes(&outbound))
        .unwrap();
    let PointValue::Histogram(h) = &point.value else {
        panic!("{point:?}")
    };
    assert_eq!(h.count, 5);
    let sum = h.sum.unwrap_or_default();
    let truth = made
        .client_lifetimes
        .iter()
        .map(Duration::as_secs_f64)
        .sum::<f64>();
    assert!(
        (sum - truth).abs() < 0.05 + truth * 0.25,
        "durations: kotel {sum} s, test {truth} s"
    );

    // Kernel histograms are read every second, then collected: they may come a little later.
    let rtt = rotel
        .wait_for_metric("tcp.connect.duration", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (rtt.kind, rtt.unit.as_str()),
        (MetricKind::ExponentialHistogram, "s")
    );
    let connects: u64 = rtt
        .points
        .iter()
        .filter_map(|p| match &p.value {
            PointValue::ExponentialHistogram(e) => Some(e.count),
            _ => None,
        })
        .sum();
    assert!(connects >= 5, "connect latencies recorded: {connects}");

    let logs: Vec<_> = received
        .logs
        .iter()
        .filter(|l| l.body.contains(&marker))
        .collect();
    let execs: Vec<_> = logs.iter().filter(|l| l.body.contains(" exec ")).collect();
    assert_eq!(execs.len(), 2, "one exec record per transport: {logs:#?}");
    // What the kernel ran, resolved (/bin is a link to usr/bin on Debian), and what was
    // asked for.
    let echo = std::fs::canonicalize("/bin/echo")
        .unwrap()
        .display()
        .to_string();
    for log in execs {
        assert_eq!(log.severity_text, "INFO");
        let path = log.attributes.get("process.executable.path");
        assert_eq!(path, Some(&echo));
        let requested = log.attributes.get("process.executable.requested_path");
        assert_eq!(requested.map(String::as_str), Some("/bin/echo"));
        let kind = log.attributes.get("process.executable.kind");
        assert_eq!(kind.map(String::as_str), Some("file"));
    }
    let opens: Vec<_> = logs
        .iter()
        .filter(|l| l.body.contains("file_open"))
        .collect();
    assert_eq!(
        opens.len(),
        2,
        "one file-open record per transport: {logs:#?}"
    );
    for log in opens {
        assert_eq!(log.severity_text, "WARN");
        let path = secret.display().to_string();
        assert_eq!(log.attributes.get("file.path"), Some(&path));
        assert_eq!(log.attributes.get("file.requested_path"), Some(&path));
        let matched = log.attributes.get("file.open.match");
        assert_eq!(matched.map(String::as_str), Some("directory"));
        let access = log.attributes.get("file.open.access");
        assert_eq!(access.map(String::as_str), Some("write,create,truncate"));
    }
}

#[test]
fn self_telemetry_reaches_otlp_with_the_scrape_names_every_interval_on_the_agents_resource() {
    const TEST: &str = "export_self_telemetry_otlp";
    if !ready(TEST) {
        return;
    }
    let scratch = ScratchDir::new("telemetry").unwrap();
    let receiver = |name: &str| {
        let dir = scratch.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Rotel::start(&dir).expect("rotel")
    };
    let (metrics_rx, logs_rx) = (receiver("metrics"), receiver("logs"));
    let exporters = format!(
        "  otlp: {{ endpoint: \"{}\" }}\n  otlp/logs: {{ endpoint: \"{}\" }}\n",
        metrics_rx.grpc_endpoint(),
        logs_rx.grpc_endpoint()
    );
    let more = "  exec: { batch_timeout: 50ms }\n";
    let yaml = pipeline(&exporters, "otlp", "1s", more)
        + "  logs: { sources: [exec], exporters: [otlp/logs] }\n"
        + "telemetry: { interval: 2s }\n";
    let mut agent = Agent::start_exporting(&yaml);
    traffic::wait_until_attached();
    let _ = std::process::Command::new("/bin/true").status();

    let name = kotel::telemetry::names::EVENTS_RECEIVED;
    let times = |r: &rotel::Received| -> Vec<u64> {
        let mut t: Vec<u64> = r
            .metrics_named(name)
            .flat_map(|m| m.points.iter().map(|p| p.time_unix_nano))
            .collect();
        t.sort();
        t.dedup();
        t
    };
    let received = metrics_rx
        .wait_until(0, Duration::from_secs(30), |r| times(r).len() >= 3)
        .unwrap_or_else(|e| panic!("{e}"));
    let logs_only = logs_rx
        .wait_until(0, Duration::from_secs(20), |r| !r.logs.is_empty())
        .unwrap_or_else(|e| panic!("{e}"));
    agent.stop();

    let events = received.last_metric(name).cloned().unwrap();
    assert_eq!(events.kind, MetricKind::Sum);
    assert_eq!(
        (events.monotonic, events.temporality),
        (Some(true), Some(Temporality::Cumulative))
    );
    assert_eq!(
        events.resource.get("service.name").map(String::as_str),
        Some("kotel"),
        "the agent's resource"
    );
    let tcp = events
        .points
        .iter()
        .find(|p| p.has_attributes(&[("component_id", "tcp"), ("component_kind", "source")]))
        .unwrap_or_else(|| panic!("no point of the tcp source: {events:?}"));
    assert!(tcp.value.as_f64().unwrap_or_default() > 0.0, "{tcp:?}");
    assert!(tcp.start_time_unix_nano > 0 && tcp.start_time_unix_nano < tcp.time_unix_nano);
    let depth = received
        .last_metric(names::CHANNEL_CAPACITY)
        .cloned()
        .unwrap();
    assert_eq!(depth.kind, MetricKind::Gauge);
    // Every snapshot, at the configured interval.
    let times = times(&received);
    for pair in times.windows(2) {
        let gap = Duration::from_nanos(pair[1] - pair[0]);
        assert!(
            gap >= Duration::from_millis(1500) && gap <= Duration::from_millis(2500),
            "snapshots {gap:?} apart, configured 2s: {times:?}"
        );
    }
    // The same names as the scrape endpoint's, before Prometheus naming.
    let snapshot = kotel::telemetry::snapshot();
    let known: std::collections::BTreeSet<&str> = snapshot
        .counters
        .iter()
        .chain(&snapshot.gauges)
        .map(|p| p.name.as_str())
        .collect();
    let sent: Vec<String> = received
        .metric_names()
        .into_iter()
        .filter(|n| n.starts_with("kotel."))
        .collect();
    assert!(sent.len() >= 5, "{sent:?}");
    for n in &sent {
        assert!(
            known.contains(n.as_str()),
            "{n} is not a self-telemetry name"
        );
    }
    // An exporter of logs pipelines only gets no metrics.
    assert_eq!(
        logs_only.metric_names(),
        Vec::<String>::new(),
        "the logs-only exporter sent metrics"
    );
}

#[test]
fn prometheus_scrapes_the_endpoint_and_finds_this_tests_connections() {
    const TEST: &str = "export_prometheus_scrape";
    if !ready(TEST) {
        return;
    }
    let scratch = ScratchDir::new("prom").unwrap();
    let port = kotel_integration_tests::local_server::free_port().unwrap();
    let exporters = format!("  prometheus: {{ listen: \"127.0.0.1:{port}\" }}\n");
    let _agent = Agent::start_exporting(&pipeline(&exporters, "prometheus", "1s", ""));
    let prometheus = Prometheus::start(
        scratch.path(),
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(1),
    )
    .expect("prometheus");
    traffic::wait_until_attached();
    let made = Traffic::run(4, Duration::from_millis(10));
    let query = format!(
        "tcp_connection_opened_total{{server_port=\"{}\",direction=\"outbound\"}}",
        made.port
    );
    let value = prometheus
        .wait_for_value(&query, Duration::from_secs(40), |v| v >= 4.0)
        .unwrap_or_else(|e| panic!("{e}\n{}", prometheus.output_tail()));
    assert_eq!(value, 4.0);
    let count = format!(
        "tcp_connection_duration_seconds_count{{server_port=\"{}\",direction=\"inbound\"}}",
        made.port
    );
    assert_eq!(
        prometheus
            .wait_for(&count, Duration::from_secs(20))
            .unwrap(),
        4.0
    );
    let received = prometheus
        .wait_for(
            "kotel_component_events_received_total{component_id=\"tcp\",component_kind=\"source\"}",
            Duration::from_secs(10),
        )
        .unwrap();
    assert!(
        received >= 16.0,
        "the agent's own counters are scraped too: {received}"
    );
}

#[test]
fn a_receiver_outage_drops_oldest_counted_and_data_resumes() {
    const TEST: &str = "export_receiver_outage";
    if !ready(TEST) {
        return;
    }
    let scratch = ScratchDir::new("outage").unwrap();
    let mut rotel = Rotel::start(scratch.path()).expect("rotel");
    let exporters = format!(
        "  otlp: {{ endpoint: \"{}\", timeout: 500ms, retry: {{ initial_interval: 100ms, max_interval: 200ms, max_elapsed: 1s }}, queue: {{ max_requests: 3 }} }}\n",
        rotel.grpc_endpoint()
    );
    let _agent = Agent::start_exporting(&pipeline(&exporters, "otlp", "1s", ""));
    traffic::wait_until_attached();
    rotel
        .wait_for_metric("tcp.connection.opened", Duration::from_secs(15))
        .expect("data before the outage");

    rotel.stop().unwrap();
    let dropped = || {
        kotel::telemetry::snapshot().counter_sum(
            kotel::telemetry::names::OTLP_DROPPED,
            &[("component_id", "otlp")],
        )
    };
    let before = dropped();
    // Eight collections while the receiver is away; the queue holds three.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while dropped() <= before {
        Traffic::run(1, Duration::ZERO);
        assert!(
            std::time::Instant::now() < deadline,
            "nothing counted as dropped"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let queued = kotel::telemetry::snapshot()
        .gauges
        .iter()
        .filter(|g| g.name == kotel::telemetry::names::OTLP_QUEUE_REQUESTS)
        .map(|g| g.value)
        .fold(0.0, f64::max);
    assert!(queued <= 3.0, "queue within its bound: {queued}");

    let mark = rotel.mark();
    rotel.start_again().unwrap();
    let made = Traffic::run(2, Duration::ZERO);
    let port = made.port.to_string();
    rotel
        .wait_until(mark, Duration::from_secs(20), |r| {
            r.last_metric("tcp.connection.opened").is_some_and(|m| {
                m.points
                    .iter()
                    .any(|p| p.has_attributes(&[("server.port", port.as_str())]))
            })
        })
        .unwrap_or_else(|e| panic!("data did not resume: {e}\n{}", rotel.output_tail()));
}

#[test]
fn otlp_over_mutual_tls_delivers_with_the_client_certificate_only() {
    const TEST: &str = "export_otlp_tls";
    if !ready(TEST) {
        return;
    }
    let scratch = ScratchDir::new("tls").unwrap();
    let pki = Pki::new(scratch.path());
    let rotel = Rotel::start(scratch.path()).expect("rotel");
    let grpc = TlsProxy::start(&pki, rotel.grpc_port());
    let http = TlsProxy::start(&pki, rotel.http_port());
    let tls = format!(
        "{{ ca_file: {}, cert_file: {}, key_file: {} }}",
        pki.ca.display(),
        pki.client_cert.display(),
        pki.client_key.display()
    );
    let exporters = [
        format!("  otlp: {{ endpoint: \"https://127.0.0.1:{}\", tls: {tls} }}\n", grpc.port),
        format!(
            "  otlp/http: {{ endpoint: \"https://127.0.0.1:{}\", protocol: http/protobuf, tls: {tls} }}\n",
            http.port
        ),
        format!(
            "  otlp/nocert: {{ endpoint: \"https://127.0.0.1:{}\", tls: {{ ca_file: {} }}, retry: {{ initial_interval: 200ms, max_interval: 500ms }} }}\n",
            grpc.port,
            pki.ca.display()
        ),
    ]
    .concat();
    let mut agent = Agent::start_exporting(&pipeline(
        &exporters,
        "otlp, otlp/http, otlp/nocert",
        "1s",
        "",
    ));
    traffic::wait_until_attached();
    let made = Traffic::run(3, Duration::ZERO);
    let port = made.port.to_string();
    let outbound = [("server.port", port.as_str()), ("direction", "outbound")];
    rotel
        .wait_until(0, Duration::from_secs(20), |r| {
            r.metrics_named("tcp.connection.opened")
                .filter(|m| {
                    m.points
                        .iter()
                        .any(|p| p.has_attributes(&outbound) && p.value.as_f64() == Some(3.0))
                })
                .count()
                >= 2
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", rotel.output_tail()));
    let counter = |name: &str, id: &str| {
        kotel::telemetry::snapshot().counter_sum(name, &[("component_id", id)])
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    for id in ["otlp", "otlp/http"] {
        while counter(kotel::telemetry::names::OTLP_SENT, id) == 0.0 {
            assert!(
                std::time::Instant::now() < deadline,
                "{id} sent nothing; dropped {}, retried {}",
                counter(kotel::telemetry::names::OTLP_DROPPED, id),
                counter(kotel::telemetry::names::OTLP_RETRIES, id)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Without a client certificate the server refuses the connection: never sent, and
    // counted (retried while the error looks transient, dropped once it does not).
    let failures = || {
        counter(kotel::telemetry::names::OTLP_RETRIES, "otlp/nocert")
            + counter(kotel::telemetry::names::OTLP_DROPPED, "otlp/nocert")
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while failures() == 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "otlp/nocert: no retry and no drop counted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = counter(kotel::telemetry::names::OTLP_SENT, "otlp/nocert");
    assert_eq!(
        sent, 0.0,
        "nothing goes through without the client certificate"
    );
    agent.stop();
}
