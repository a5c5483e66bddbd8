//! The receiver neighbours themselves, without root: a real rotel receives what the
//! official OpenTelemetry Python SDK sends over OTLP/gRPC and OTLP/HTTP, and the parsed
//! print-out holds the counter, histograms and log record sent, with their resource,
//! units, temporality and attributes; rotel comes back on the same ports after a stop;
//! a real Prometheus scrapes a fixed text exposition and answers queries about it.
//!
//! Without rotel, the venv's Python or Prometheus (`scripts/setup-receivers.sh`, as root,
//! installs them) a test prints why and returns (skip).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kotel_integration_tests::prometheus::{self, Prometheus, JOB};
use kotel_integration_tests::rotel::{self, MetricKind, Received, Rotel, Temporality, ValueKind};

/// Sends, from a fresh SDK: counter `smoke.requests` (3 with route=/a, 4 with route=/b),
/// histogram `smoke.latency` (0.5, 5, 50 in bounds 1, 10, 100), exponential histogram
/// `smoke.size` (1, 2, 4, 0) and one WARN log record, with resource `service.name` =
/// argv[3]. Usage: python -c SCRIPT grpc|http ENDPOINT SERVICE delta|cumulative.
const SDK_CLIENT: &str = r#"
import logging, sys
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

protocol, endpoint, service, temporality = sys.argv[1:5]
chosen = AggregationTemporality.DELTA if temporality == "delta" else AggregationTemporality.CUMULATIVE
preferred = {Counter: chosen, Histogram: chosen}
if protocol == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    metrics_out = OTLPMetricExporter(endpoint=endpoint, insecure=True, preferred_temporality=preferred)
    logs_out = OTLPLogExporter(endpoint=endpoint, insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    metrics_out = OTLPMetricExporter(endpoint=endpoint + "/v1/metrics", preferred_temporality=preferred)
    logs_out = OTLPLogExporter(endpoint=endpoint + "/v1/logs")
resource = Resource.create({"service.name": service})
views = [
    View(instrument_name="smoke.latency", aggregation=ExplicitBucketHistogramAggregation(boundaries=[1, 10, 100])),
    View(instrument_name="smoke.size", aggregation=ExponentialBucketHistogramAggregation(max_size=8)),
]
reader = PeriodicExportingMetricReader(metrics_out, export_interval_millis=600000)
provider = MeterProvider(resource=resource, metric_readers=[reader], views=views)
meter = provider.get_meter("kotel.smoke", "0.1")
requests = meter.create_counter("smoke.requests", unit="{request}", description="Requests served")
requests.add(3, {"route": "/a"})
requests.add(4, {"route": "/b"})
latency = meter.create_histogram("smoke.latency", unit="ms", description="Latency")
for v in (0.5, 5, 50):
    latency.record(v, {"route": "/a"})
size = meter.create_histogram("smoke.size", unit="By")
for v in (1, 2, 4, 0):
    size.record(v)
provider.shutdown()

logs = LoggerProvider(resource=resource)
logs.add_log_record_processor(SimpleLogRecordProcessor(logs_out))
logger = logging.getLogger("kotel.smoke")
logger.propagate = False
logger.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logs))
logger.warning("reset by peer", extra={"peer.port": 443, "k8s.pod.name": "web-0"})
logs.shutdown()
"#;

const WAIT: Duration = Duration::from_secs(20);

fn rotel_ready_or_skip(test: &str) -> bool {
    match rotel::available() {
        Ok(()) => true,
        Err(why) => {
            kotel_integration_tests::skip(test, &why);
            false
        }
    }
}

/// Runs [`SDK_CLIENT`] and fails the test if the SDK reports an export error.
fn send_with_sdk(protocol: &str, endpoint: &str, service: &str, temporality: &str) {
    let mut command = Command::new(rotel::venv_python());
    command.args(["-c", SDK_CLIENT, protocol, endpoint, service, temporality]);
    // The SDK reads its exporters' settings from OTEL_EXPORTER_OTLP_*: none may leak in.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OTEL_EXPORTER") {
            command.env_remove(key);
        }
    }
    let started = Instant::now();
    let out = command.output().expect("running the venv's python");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "SDK client failed: {stderr}");
    assert!(
        !stderr.contains("Failed to export"),
        "the SDK could not export: {stderr}"
    );
    eprintln!("SDK client ({protocol}) ran in {:?}", started.elapsed());
}

fn has_service(received: &Received, metric: &str, service: &str) -> bool {
    received
        .metrics_named(metric)
        .any(|m| m.resource.get("service.name").map(String::as_str) == Some(service))
}

/// Checks what one SDK run sent, as parsed from rotel's print-out.
fn assert_received(received: &Received, service: &str, temporality: Temporality) {
    let of_service = |name: &str| {
        received
            .metrics_named(name)
            .filter(|m| m.resource["service.name"] == service)
            .last()
            .unwrap_or_else(|| panic!("no {name} from {service}"))
            .clone()
    };
    let requests = of_service("smoke.requests");
    assert_eq!(requests.kind, MetricKind::Sum);
    assert_eq!(requests.monotonic, Some(true));
    assert_eq!(requests.temporality, Some(temporality));
    assert_eq!(requests.unit, "{request}");
    assert_eq!(requests.description, "Requests served");
    assert_eq!(
        (
            requests.scope.name.as_str(),
            requests.scope.version.as_str()
        ),
        ("kotel.smoke", "0.1")
    );
    assert_eq!(requests.resource["telemetry.sdk.language"], "python");
    let a = requests.point_with(&[("route", "/a")]).expect("route /a");
    assert_eq!(a.number(), Some(3.0));
    assert_eq!(a.attribute_kinds["route"], ValueKind::Str);
    assert!(a.start_time_unix_nano > 0 && a.time_unix_nano >= a.start_time_unix_nano);
    let b = requests.point_with(&[("route", "/b")]).expect("route /b");
    assert_eq!(b.number(), Some(4.0));

    let latency = of_service("smoke.latency");
    assert_eq!(latency.kind, MetricKind::Histogram);
    assert_eq!(latency.temporality, Some(temporality));
    assert_eq!(latency.unit, "ms");
    let point = latency.point_with(&[("route", "/a")]).expect("route /a");
    let h = point.histogram().expect("a histogram point");
    assert_eq!(h.count, 3);
    assert_eq!(h.sum, Some(55.5));
    assert_eq!((h.min, h.max), (Some(0.5), Some(50.0)));
    assert_eq!(h.explicit_bounds, vec![1.0, 10.0, 100.0]);
    assert_eq!(h.bucket_counts, vec![1, 1, 1, 0]);

    let size = of_service("smoke.size");
    assert_eq!(size.kind, MetricKind::ExponentialHistogram);
    let e = size.points[0].exponential_histogram().expect("exponential");
    assert_eq!((e.count, e.zero_count, e.sum), (4, 1, Some(7.0)));
    // Eight buckets at most: the SDK settles on scale 1, where 1, 2 and 4 (upper bounds
    // 2^0, 2^1, 2^2 of buckets -1, 1 and 3) fit in five; it sends all eight.
    assert_eq!(e.scale, Some(1), "{e:?}");
    assert_eq!(e.positive_offset, Some(-1), "{e:?}");
    assert_eq!(
        e.positive_bucket_counts(),
        vec![1, 0, 1, 0, 1, 0, 0, 0],
        "{e:?}"
    );

    let log = received
        .logs
        .iter()
        .find(|l| l.resource["service.name"] == service)
        .unwrap_or_else(|| panic!("no log record from {service}"));
    assert_eq!(
        (log.severity_text.as_str(), log.severity_number),
        ("WARN", 13)
    );
    assert_eq!(log.body, "reset by peer");
    assert_eq!(log.body_kind, ValueKind::Str);
    assert_eq!(log.attributes["peer.port"], "443");
    assert_eq!(log.attribute_kinds["peer.port"], ValueKind::Int);
    assert_eq!(log.attributes["k8s.pod.name"], "web-0");
    assert_eq!(log.scope.name, "kotel.smoke");
    assert!(log.time_unix_nano > 0);
}

#[test]
fn rotel_receives_metrics_and_logs_over_grpc_and_http() {
    const TEST: &str = "rotel_receives_metrics_and_logs_over_grpc_and_http";
    if !rotel_ready_or_skip(TEST) {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let rotel = Rotel::start(dir.path()).expect("starting rotel");
    eprintln!("{TEST}: rotel ready in {:?}", started.elapsed());

    send_with_sdk("grpc", &rotel.grpc_endpoint(), "smoke-grpc", "delta");
    send_with_sdk("http", &rotel.http_endpoint(), "smoke-http", "cumulative");
    let started = Instant::now();
    let received = rotel
        .wait_until(0, WAIT, |r| {
            has_service(r, "smoke.size", "smoke-grpc")
                && has_service(r, "smoke.size", "smoke-http")
                && r.logs.len() >= 2
        })
        .expect("both runs received");
    eprintln!("{TEST}: parsed after a further {:?}", started.elapsed());
    assert_received(&received, "smoke-grpc", Temporality::Delta);
    assert_received(&received, "smoke-http", Temporality::Cumulative);
    assert_eq!(received.logs.len(), 2, "{:#?}", received.logs);
    let latest = rotel
        .wait_for_metric("smoke.requests", WAIT)
        .expect("wait_for_metric");
    assert_eq!(latest.resource["service.name"], "smoke-http");
}

#[test]
fn rotel_comes_back_on_the_same_ports() {
    const TEST: &str = "rotel_comes_back_on_the_same_ports";
    if !rotel_ready_or_skip(TEST) {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut rotel = Rotel::start(dir.path()).expect("starting rotel");
    let endpoints = (rotel.grpc_endpoint(), rotel.http_endpoint());
    let started = Instant::now();
    rotel.stop().expect("stopping rotel");
    eprintln!("{TEST}: stopped in {:?}", started.elapsed());
    assert!(!rotel.is_running());
    for port in [rotel.grpc_port(), rotel.http_port()] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still open"
        );
    }
    let started = Instant::now();
    rotel.start_again().expect("starting rotel again");
    eprintln!("{TEST}: started again in {:?}", started.elapsed());
    assert_eq!((rotel.grpc_endpoint(), rotel.http_endpoint()), endpoints);

    let mark = rotel.mark();
    send_with_sdk("grpc", &rotel.grpc_endpoint(), "after-restart", "delta");
    let received = rotel
        .wait_until(mark, WAIT, |r| {
            has_service(r, "smoke.size", "after-restart") && !r.logs.is_empty()
        })
        .expect("received after the restart");
    assert_received(&received, "after-restart", Temporality::Delta);
}

/// A tiny HTTP server answering every request with a fixed Prometheus text exposition,
/// counting requests and remembering their request lines. Stops when dropped.
struct Exposition {
    port: u16,
    requests: Arc<AtomicUsize>,
    request_lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exposition {
    fn serve(body: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the exposition");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let request_lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, request_lines, stop) =
                (requests.clone(), request_lines.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let head = read_head(&mut stream);
                    request_lines
                        .lock()
                        .unwrap()
                        .push(head.lines().next().unwrap_or_default().to_string());
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    requests.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        Exposition {
            port,
            requests,
            request_lines,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Exposition {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The request's head (up to the blank line), at most 16 KiB.
fn read_head(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

const EXPOSITION: &str = "\
# HELP kotel_smoke_connections_total Connections seen.
# TYPE kotel_smoke_connections_total counter
kotel_smoke_connections_total{direction=\"out\"} 42
kotel_smoke_connections_total{direction=\"in\"} 7
# HELP kotel_smoke_rtt_seconds Smoothed round-trip time.
# TYPE kotel_smoke_rtt_seconds gauge
kotel_smoke_rtt_seconds 0.125
";

#[test]
fn prometheus_scrapes_a_static_exposition() {
    const TEST: &str = "prometheus_scrapes_a_static_exposition";
    if let Err(why) = prometheus::available() {
        kotel_integration_tests::skip(TEST, &why);
        return;
    }
    let exposition = Exposition::serve(EXPOSITION);
    let target = format!("127.0.0.1:{}", exposition.port);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let prom = Prometheus::start(dir.path(), &target, Duration::from_secs(1))
        .expect("starting prometheus");
    eprintln!("{TEST}: prometheus ready in {:?}", started.elapsed());

    let value = prom
        .wait_for(
            r#"kotel_smoke_connections_total{direction="out"}"#,
            Duration::from_secs(30),
        )
        .expect("the scraped counter");
    eprintln!(
        "{TEST}: first sample queryable {:?} after start",
        started.elapsed()
    );
    assert_eq!(value, 42.0);
    assert_eq!(prom.series_value("kotel_smoke_rtt_seconds"), Some(0.125));
    assert_eq!(
        prom.series_value("sum(kotel_smoke_connections_total)"),
        Some(49.0)
    );
    assert_eq!(
        prom.series_value("scalar(kotel_smoke_rtt_seconds) * 8"),
        Some(1.0)
    );
    assert_eq!(prom.series_value("kotel_smoke_absent"), None);

    let up = prom.query("up").expect("querying up");
    assert_eq!(up["resultType"], "vector");
    let labels: BTreeMap<String, String> =
        serde_json::from_value(up["result"][0]["metric"].clone()).expect("labels of up");
    assert_eq!(labels["job"], JOB);
    assert_eq!(labels["instance"], target);
    assert_eq!(up["result"][0]["value"][1], "1");
    assert!(prom.targets_up(), "{:?}", prom.targets());
    let targets = prom.targets().expect("targets");
    assert_eq!(targets[0].scrape_url, format!("http://{target}/metrics"));

    let bad = prom.query("sum(").expect_err("a bad query");
    assert_eq!(bad.kind(), std::io::ErrorKind::InvalidInput, "{bad}");

    assert!(exposition.requests.load(Ordering::SeqCst) >= 1);
    let first = exposition.request_lines.lock().unwrap()[0].clone();
    assert!(first.starts_with("GET /metrics HTTP/1.1"), "{first}");
}
