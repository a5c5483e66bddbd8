//! What OTLP export costs (a benchmark, not a timed test), unprivileged:
//! `cargo bench -p kotel-integration-tests --bench otlp_export` (needs
//! `scripts/setup-receivers.sh` for rotel).
//!
//! The real `otlp` exporter sends collections of `SERIES` sum points and `SERIES / 5`
//! histogram points (11 buckets), each with three pod attributes, to a real receiver
//! (rotel with its blackhole exporter, no debug output), over gRPC and over HTTP, plain
//! and gzip. Reported per transport: data points per second encoded and sent (end to
//! end, until the queue is empty), bytes per data point on the wire, and the agent's CPU
//! (user + system of this process, which includes the encoding and the client side of
//! the transport) per 1000 data points.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kotel::component::Exporter;
use kotel::event::{
    Event, HistogramPoint, Metric, MetricBatch, MetricData, NumberPoint, PointHeader, Temporality,
};
use kotel::exporters::otlp::config::{Compression, Protocol};
use kotel::exporters::otlp::{OtlpExporter, OtlpExporterConfig};
use kotel::telemetry::names;
use kotel_integration_tests::local_server::{accepts, free_port};
use kotel_integration_tests::rotel;

const SERIES: usize = 5_000;
const ROUNDS: usize = 20;

fn header(i: usize) -> PointHeader {
    PointHeader {
        attributes: Arc::from(vec![
            ("k8s.container.name".to_string(), "app".to_string()),
            ("k8s.namespace.name".to_string(), format!("team-{}", i % 20)),
            (
                "k8s.pod.name".to_string(),
                format!("web-{i}-7d9f8c6b5-x2x4q"),
            ),
        ]),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        time_unix_nano: 1_700_000_015_000_000_000,
    }
}

fn collection() -> MetricBatch {
    let sums = (0..SERIES)
        .map(|i| NumberPoint {
            header: header(i),
            value: i as i64 * 7,
        })
        .collect();
    let bounds: Arc<[f64]> = Arc::from([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]);
    let histograms = (0..SERIES / 5)
        .map(|i| HistogramPoint {
            header: header(i),
            count: 30,
            sum: 1.5,
            bounds: bounds.clone(),
            bucket_counts: vec![1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 0, 0],
            exemplars: Vec::new(),
        })
        .collect();
    MetricBatch {
        time_unix_nano: 1_700_000_015_000_000_000,
        metrics: vec![
            Metric {
                name: "tcp.connection.opened".into(),
                description: "TCP connections established".into(),
                unit: "{connection}".into(),
                data: MetricData::Sum {
                    monotonic: true,
                    temporality: Temporality::Cumulative,
                    points: sums,
                },
            },
            Metric {
                name: "tcp.connection.duration".into(),
                description: "Lifetime of closed TCP connections".into(),
                unit: "s".into(),
                data: MetricData::Histogram {
                    temporality: Temporality::Cumulative,
                    points: histograms,
                },
            },
        ],
    }
}

/// rotel listening on two free ports, discarding what it receives.
fn receiver() -> (Child, u16, u16) {
    let (grpc, http) = (free_port().unwrap(), free_port().unwrap());
    let child = Command::new(rotel::binary())
        .args(["start", "--exporter", "blackhole"])
        .arg("--otlp-grpc-endpoint")
        .arg(format!("127.0.0.1:{grpc}"))
        .arg("--otlp-http-endpoint")
        .arg(format!("127.0.0.1:{http}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rotel");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(accepts(grpc) && accepts(http)) {
        assert!(Instant::now() < deadline, "rotel did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, grpc, http)
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

fn counter(name: &str, component: &str) -> f64 {
    kotel::telemetry::snapshot().counter_sum(name, &[("component_id", component)])
}

fn main() {
    if let Err(why) = rotel::available() {
        eprintln!("otlp_export: skipped: {why}");
        return;
    }
    kotel::telemetry::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut rotel, grpc, http) = receiver();
    let batch = vec![Event::Metrics(collection())];
    let points_per_round = SERIES + SERIES / 5;
    for (name, protocol, port, compression) in [
        ("grpc", Protocol::Grpc, grpc, Compression::None),
        ("grpc+gzip", Protocol::Grpc, grpc, Compression::Gzip),
        ("http", Protocol::HttpProtobuf, http, Compression::None),
        ("http+gzip", Protocol::HttpProtobuf, http, Compression::Gzip),
    ] {
        let component = format!("otlp/{name}");
        let config = OtlpExporterConfig {
            endpoint: format!("http://127.0.0.1:{port}"),
            protocol,
            compression,
            ..OtlpExporterConfig::default()
        };
        let (took, cpu) = runtime.block_on(async {
            let mut exporter = OtlpExporter::new(&component, &config);
            let (started, cpu_before) = (Instant::now(), cpu_seconds());
            for _ in 0..ROUNDS {
                exporter.export(&batch).await.unwrap();
            }
            exporter
                .flush(tokio::time::Instant::now() + Duration::from_secs(60))
                .await
                .unwrap();
            (started.elapsed(), cpu_seconds() - cpu_before)
        });
        let sent = counter(names::OTLP_SENT, &component);
        let dropped = counter(names::OTLP_DROPPED, &component);
        let bytes = counter(names::OTLP_SENT_BYTES, &component);
        let points = (points_per_round * ROUNDS) as f64;
        assert_eq!((sent, dropped), (points, 0.0), "{name}: everything sent");
        let wire = match compression {
            Compression::None => format!("{:.1} bytes per data point", bytes / points),
            Compression::Gzip => format!(
                "{:.1} bytes per data point before gzip ({} on the wire)",
                bytes / points,
                gzip_ratio(&batch, &config)
            ),
        };
        println!(
            "otlp {name:<10} {:>9.0} data points/s, {wire}, {:.2} ms CPU per 1000 data points ({ROUNDS} x {points_per_round} points)",
            points / took.as_secs_f64(),
            cpu * 1e6 / points,
        );
    }
    let _ = rotel.kill();
    let _ = rotel.wait();
}

/// Bytes per data point after gzip, measured by compressing one encoded request.
fn gzip_ratio(batch: &[Event], config: &OtlpExporterConfig) -> String {
    use prost::Message;
    use std::io::Write;
    let Event::Metrics(m) = &batch[0] else {
        return String::new();
    };
    let resource = kotel::exporters::otlp::resource::resource("", &config.resource);
    let request = kotel::exporters::otlp::encode_metrics::metrics_request(&resource, &[m], &[]);
    let body = request.encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body).unwrap();
    let compressed = gz.finish().unwrap();
    let points = kotel::exporters::otlp::encode_metrics::data_points(&[m], &[]);
    format!("{:.1}", compressed.len() as f64 / points as f64)
}
