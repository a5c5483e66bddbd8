//! The dashboards against real Prometheus, as root: the agent runs the real tcp, exec and
//! file_open sources (and a replay of two pods' RTT histograms) into the real aggregate
//! processor and `prometheus` exporter; two Debian Prometheus 2.42 scrape it, one as
//! shipped (text format: histograms stored as classic `le` buckets) and one with
//! `--enable-feature=native-histograms` (protobuf: exponential histograms stored as native
//! histograms, the form Prometheus's OTLP receiver also stores behind the Collector
//! gateway); both store exemplars. The test drives connections, a refused connect, retransmits across a veth
//! pair, an exec and an open of a watched file, then:
//!
//! - every Prometheus query of the network, requests and security dashboards returns data
//!   from both (HTTP requests from `kotel-test-http` for the requests dashboard), with the dashboards' own expressions (variables set to match everything);
//! - both return the request histograms' exemplars (trace and span ids) to the query
//!   Grafana uses to link a bucket to a trace;
//! - each Prometheus stored the histograms in its own form (no `_bucket` series in the
//!   native one, no native histogram in the classic one);
//! - two pods with RTTs 2^9 apart, summed across pods, give quantiles inside the right
//!   bucket on both (the classic form needs every series to carry the same `le` edges:
//!   its fixed bucket per doubling; the native form keeps the kernel's scale-2 buckets).
//!
//! A second test drives the health dashboard: a faulty agent (see
//! [`every_health_panel_shows_a_faulty_agent`]) makes every one of its queries return data.
//!
//! Needs root (kernel programs) and `scripts/setup-receivers.sh` (Prometheus); skipped,
//! saying so, without them.

#[path = "dashboards/catalog.rs"]
mod catalog;
#[path = "tcp_quality/net.rs"]
mod net;
// Shared with export_receivers.rs, which reads what a run made; this test does not.
#[allow(dead_code)]
#[path = "export_receivers/traffic.rs"]
mod traffic;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kotel::event::{CgroupHistogram, Event, HistogramMetric, Workload};
use kotel_integration_tests::agent::Agent;
use kotel_integration_tests::containerd::ScratchDir;
use kotel_integration_tests::fake_cri::{FakeContainer, FakeCri, Fault, Garbage};
use kotel_integration_tests::local_server::free_port;
use kotel_integration_tests::prometheus::{self, Prometheus};
use kotel_integration_tests::rotel::Rotel;
use kotel_integration_tests::{is_root, skip};
use net::VethPair;
use tonic::Code;

const TEST: &str = "dashboards_live";
/// `$__rate_interval` in the queries: several 1 s scrapes.
const RATE_WINDOW: &str = "15s";
/// The namespace of the replayed pods.
const QUANTILE_NAMESPACE: &str = "quantiles";
/// OTLP bucket indexes (scale 2) of the replayed pods' RTTs: (86, 103] µs and (44, 52] ms.
const FAST_INDEX: i32 = -54;
const SLOW_INDEX: i32 = -18;

#[test]
fn every_prometheus_panel_shows_the_workload_in_both_histogram_forms() {
    if !is_root() {
        return skip(TEST, "the kernel sources need root");
    }
    if let Err(why) = prometheus::available() {
        return skip(TEST, &why);
    }
    let scratch = ScratchDir::new("dashboards-live").unwrap();
    let watched = scratch.path().join("watched-secret");
    std::fs::write(&watched, "x").unwrap();
    let replay = scratch.path().join("two-pods.jsonl");
    write_two_pods(&replay);
    let port = free_port().unwrap();
    let _agent = Agent::start_exporting(&pipeline(port, &watched, &replay));
    let (classic, native) = two_prometheus(scratch.path(), port);
    traffic::wait_until_attached();

    let queries = dashboard_queries(|file| !file.contains("health"));
    assert!(queries.len() >= 20, "{} queries", queries.len());
    let http = HttpServer::start();
    let (empty, round) = until_both_return_data(&queries, [&classic, &native], |round| {
        drive_workload(&watched, round, http.port)
    });
    let report: Vec<String> = empty
        .iter()
        .map(|(at, expr)| {
            format!(
                "{at}: classic {}, native {}: {expr}",
                returns_data(&classic, expr),
                returns_data(&native, expr)
            )
        })
        .collect();
    assert!(
        report.is_empty(),
        "queries without data after {round} rounds:\n{}\nclassic: {}\nnative: {}",
        report.join("\n"),
        classic.output_tail(),
        native.output_tail()
    );
    eprintln!(
        "{TEST}: {} queries returned data on both Prometheus after {round} workload rounds",
        queries.len()
    );

    // Grafana's exemplar query (`/api/v1/query_exemplars`) finds the request buckets'
    // trace ids on both: from the OpenMetrics text and from protobuf buckets.
    for (form, prometheus) in [("classic", &classic), ("native", &native)] {
        let found = prometheus
            .exemplars(
                "http_server_request_duration_seconds_bucket",
                Duration::from_secs(600),
            )
            .unwrap_or_else(|e| panic!("{form}: {e}"));
        assert!(!found.is_empty(), "{form}: no exemplar");
        for (labels, value) in &found {
            let hex = |key: &str, n: usize| {
                labels
                    .get(key)
                    .is_some_and(|v| v.len() == n && v.bytes().all(|b| b.is_ascii_hexdigit()))
            };
            assert!(
                hex("trace_id", 32) && hex("span_id", 16),
                "{form}: {labels:?}"
            );
            assert!(*value > 0.0 && *value < 60.0, "{form}: {value}");
        }
        eprintln!(
            "{TEST}: {form}: {} request exemplars with trace ids",
            found.len()
        );
    }

    // Each stored its own form.
    assert!(returns_data(&classic, "tcp_rtt_seconds_bucket"));
    assert!(!returns_data(&classic, "histogram_count(tcp_rtt_seconds)"));
    assert!(returns_data(&native, "histogram_count(tcp_rtt_seconds)"));
    assert!(!returns_data(&native, "tcp_rtt_seconds_bucket"));

    // Quantiles across two pods land in the right bucket.
    let selector = format!("k8s_namespace_name=\"{QUANTILE_NAMESPACE}\"");
    for (q, index) in [(0.25, FAST_INDEX), (0.75, SLOW_INDEX)] {
        // The native form keeps the kernel's buckets; the classic one has a bucket per
        // doubling (the bucket holding the kernel's).
        let native_bucket = (edge(index - 1), edge(index));
        let doubling = index >> 2;
        let classic_bucket = (2f64.powi(doubling), 2f64.powi(doubling + 1));
        for (form, prometheus, (lower, upper), expr) in [
            (
                "classic",
                &classic,
                classic_bucket,
                format!(
                    "histogram_quantile({q}, sum by (le) (tcp_rtt_seconds_bucket{{{selector}}}))"
                ),
            ),
            (
                "native",
                &native,
                native_bucket,
                format!("histogram_quantile({q}, sum(tcp_rtt_seconds{{{selector}}}))"),
            ),
        ] {
            let value = prometheus
                .wait_for(&expr, Duration::from_secs(20))
                .unwrap_or_else(|e| panic!("{form}: {e}"));
            assert!(
                lower < value && value <= upper,
                "{form} p{}: {value} s is outside the bucket ({lower}, {upper}]",
                q * 100.0
            );
            eprintln!(
                "{TEST}: {form} p{} = {value:.6} s in ({lower:.6}, {upper:.6}]",
                q * 100.0
            );
        }
    }
}

/// The agent's pipeline: tcp and replay into `aggregate` into the `prometheus` exporter;
/// exec and file_open (whose kernel counters the security dashboard shows) into `debug`.
fn pipeline(port: u16, watched: &Path, replay: &Path) -> String {
    format!(
        "sources:\n  tcp: {{ batch_timeout: 50ms, metrics_interval: 1s }}\n  exec: {{ batch_timeout: 50ms }}\n  \
         file_open: {{ paths: [\"{}\"], batch_timeout: 50ms }}\n  replay: {{ path: \"{}\" }}\n  \
         l7: {{ batch_timeout: 50ms }}\n\
         processors:\n  aggregate: {{ interval: 1s }}\n\
         exporters:\n  prometheus: {{ listen: \"127.0.0.1:{port}\" }}\n  debug: {{ verbosity: basic }}\n\
         pipelines:\n  metrics: {{ sources: [tcp, replay, l7], processors: [aggregate], exporters: [prometheus] }}\n  \
         logs: {{ sources: [exec, file_open], exporters: [debug] }}\n\
         telemetry: {{ interval: 1s }}\n",
        watched.display(),
        replay.display()
    )
}

/// Two Prometheus scraping `127.0.0.1:port` every second under `dir`: one as shipped
/// (text format, classic `le` buckets), one with native histograms (protobuf); both store
/// exemplars.
fn two_prometheus(dir: &Path, port: u16) -> (Prometheus, Prometheus) {
    let target = format!("127.0.0.1:{port}");
    let start = |name: &str, flags: &[&str]| {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Prometheus::start_with(&dir, &target, Duration::from_secs(1), flags).expect("prometheus")
    };
    (
        start("classic", &["--enable-feature=exemplar-storage"]),
        start(
            "native",
            &["--enable-feature=native-histograms,exemplar-storage"],
        ),
    )
}

/// Runs workload rounds (`round` gets its number) until every query returns data from
/// every Prometheus, or 90 s have passed; returns the queries still without data and the
/// rounds run.
fn until_both_return_data(
    queries: &[(String, String)],
    prometheus: [&Prometheus; 2],
    mut round: impl FnMut(usize),
) -> (Vec<(String, String)>, usize) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut empty = queries.to_vec();
    let mut rounds = 0;
    while !empty.is_empty() && Instant::now() < deadline {
        round(rounds);
        rounds += 1;
        empty.retain(|(_, expr)| prometheus.iter().any(|p| !returns_data(p, expr)));
    }
    (empty, rounds)
}

/// `(where, expression)` of every Prometheus query of the dashboards whose file name
/// `wanted` accepts, variables replaced.
fn dashboard_queries(wanted: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    catalog::load_dashboards()
        .iter()
        .filter(|(file, _)| wanted(file))
        .flat_map(|(file, d)| catalog::expressions(file, d))
        .filter(|(_, datasource, _)| datasource == "prometheus")
        .map(|(at, _, expr)| (at, catalog::with_values(&expr, RATE_WINDOW)))
        .collect()
}

fn returns_data(prometheus: &Prometheus, expr: &str) -> bool {
    prometheus
        .query(expr)
        .is_ok_and(|data| data["result"].as_array().is_some_and(|r| !r.is_empty()))
}

/// One round of everything the dashboards show: connections that carry data, a refused
/// connect (a failed connect and resets), retransmits across a veth pair whose client
/// end drops everything for a while (first round only), an exec and an open of the
/// watched file.
fn drive_workload(watched: &Path, round: usize, http_port: u16) {
    traffic::Traffic::run(5, Duration::from_millis(20));
    // HTTP requests from a process of their own (the agent does not follow its own
    // sockets): answered, failed (500), and so both sides' durations and an error.
    let http = std::process::Command::new(env!("CARGO_BIN_EXE_kotel-test-http"))
        .args(["client", &http_port.to_string(), "/users/1", "/fail"])
        .status()
        .unwrap();
    assert!(http.success());
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_port = closed.local_addr().unwrap().port();
    drop(closed);
    assert!(TcpStream::connect(("127.0.0.1", refused_port)).is_err());
    if round == 0 {
        retransmit_once();
    }
    let status = std::process::Command::new("/bin/true").status().unwrap();
    assert!(status.success());
    std::fs::read(watched).unwrap();
    thread::sleep(Duration::from_secs(2));
}

/// `kotel-test-http server` (the requests dashboard's traffic), killed on drop.
struct HttpServer {
    child: std::process::Child,
    port: u16,
}

impl HttpServer {
    fn start() -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kotel-test-http"))
            .arg("server")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("kotel-test-http server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("its port");
        let port = line.trim().parse().expect("a port");
        Self { child, port }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection between two namespaces whose segments are dropped for 1.2 s, so the
/// kernel retransmits them.
fn retransmit_once() {
    let pair = VethPair::new().expect("two namespaces and a veth pair (iproute2)");
    let (mut client, server) = pair.connect(|mut conn| {
        conn.read_exact(&mut [0u8; 100]).unwrap();
        conn.write_all(b"a").unwrap();
    });
    pair.qdisc("add", &["root", "blackhole"])
        .expect("blackhole");
    client.write_all(&[1; 100]).unwrap();
    thread::sleep(Duration::from_millis(1200));
    pair.qdisc("del", &["root"])
        .expect("removing the blackhole");
    client.read_exact(&mut [0u8; 1]).unwrap();
    server.join().unwrap();
}

/// The upper edge of OTLP bucket `index` at scale 2.
fn edge(index: i32) -> f64 {
    2f64.powf(f64::from(index + 1) / 4.0)
}

/// A replay file: two pods of namespace [`QUANTILE_NAMESPACE`], 100 RTT samples each,
/// one in bucket [`FAST_INDEX`], the other in [`SLOW_INDEX`].
fn write_two_pods(path: &Path) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let lines: Vec<String> = [("fast", FAST_INDEX), ("slow", SLOW_INDEX)]
        .into_iter()
        .map(|(pod, index)| {
            let workload = Workload::from_pairs([
                ("k8s.namespace.name", QUANTILE_NAMESPACE),
                ("k8s.pod.name", pod),
            ]);
            let histogram = CgroupHistogram {
                metric: HistogramMetric::TcpRtt,
                time_unix_nano: now,
                start_time_unix_nano: now - 1_000_000_000,
                cgroup_id: 1,
                scale: 2,
                offset: index,
                bucket_counts: vec![100],
                zero_count: 0,
                count: 100,
                sum: 100.0 * edge(index),
                workload: Some(Arc::new(workload)),
            };
            serde_json::to_string(&Event::Histogram(histogram)).unwrap()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// The health dashboard against a faulty agent, as root: every query returns data from
/// both Prometheus once the workload has driven what each panel counts. The agent runs
/// the tcp source with a 4 KiB ring (a burst overflows it), exec and file_open (one
/// watched path that cannot be resolved), a replay with an undecodable line, a replay of a
/// missing file (restarted with backoff), `k8s_cri` against the in-process fake runtime
/// (one RPC failing, `ContainerStatus` answering garbage), `aggregate` with a cardinality
/// limit of 2 (overflow), and two `otlp` exporters: one to a real rotel (sent, bytes,
/// queue), one to a closed port (retries, drops).
#[test]
fn every_health_panel_shows_a_faulty_agent() {
    const TEST: &str = "dashboards_live_health";
    if !is_root() {
        return skip(TEST, "the kernel sources need root");
    }
    if let Err(why) = prometheus::available().and(kotel_integration_tests::rotel::available()) {
        return skip(TEST, &why);
    }
    let scratch = ScratchDir::new("dashboards-health").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let socket = scratch.path().join("cri.sock");
    let cri = runtime
        .block_on(async { FakeCri::start(&socket) })
        .expect("fake CRI");
    cri.add_container(FakeContainer::new("app", "shop-0"));
    cri.set_fault("ListPodSandbox", Fault::Status(Code::Internal));
    cri.set_fault("ContainerStatus", Fault::Garbage(Garbage::InfoNotJson));
    let rotel = {
        let dir = scratch.path().join("rotel");
        std::fs::create_dir_all(&dir).unwrap();
        Rotel::start(&dir).expect("rotel")
    };
    let watched = scratch.path().join("watched-secret");
    std::fs::write(&watched, "x").unwrap();
    // A symlink to itself: resolving a path through it fails (ELOOP), counted.
    let looping = scratch.path().join("loop");
    std::os::unix::fs::symlink(&looping, &looping).unwrap();
    let bad = scratch.path().join("bad.jsonl");
    std::fs::write(&bad, "this is no event\n").unwrap();
    let port = free_port().unwrap();
    let closed = free_port().unwrap();
    let yaml = format!(
        "sources:\n  tcp: {{ batch_timeout: 50ms, metrics_interval: 1s, ring_buffer_bytes: 4096, wakeup_bytes: 0 }}\n  \
         exec: {{ batch_timeout: 50ms }}\n  \
         file_open: {{ paths: [\"{watched}\", \"{looping}/secret\"], batch_timeout: 50ms }}\n  \
         replay: {{ path: \"{bad}\" }}\n  replay/missing: {{ path: \"{missing}\" }}\n\
         processors:\n  k8s_cri: {{ endpoint: \"unix://{socket}\", resync_interval: 1s, call_timeout: 500ms }}\n  \
         aggregate: {{ interval: 1s, cardinality_limit: 2, peer: address }}\n\
         exporters:\n  prometheus: {{ listen: \"127.0.0.1:{port}\" }}\n  \
         otlp: {{ endpoint: \"{rotel}\" }}\n  \
         otlp/dead: {{ endpoint: \"http://127.0.0.1:{closed}\", timeout: 200ms, \
         retry: {{ initial_interval: 50ms, max_interval: 100ms, max_elapsed: 300ms }}, queue: {{ max_requests: 1 }} }}\n\
         pipelines:\n  metrics: {{ sources: [tcp, replay], processors: [k8s_cri, aggregate], exporters: [prometheus, otlp, otlp/dead] }}\n  \
         logs: {{ sources: [exec, file_open, replay/missing], processors: [k8s_cri], exporters: [otlp, otlp/dead] }}\n\
         telemetry: {{ interval: 1s }}\n\
         runtime: {{ restart_backoff_initial: 200ms, restart_backoff_max: 1s }}\n",
        watched = watched.display(),
        looping = looping.display(),
        bad = bad.display(),
        missing = scratch.path().join("missing.jsonl").display(),
        socket = socket.display(),
        rotel = rotel.grpc_endpoint(),
    );
    let _agent = Agent::start_exporting(&yaml);
    let (classic, native) = two_prometheus(scratch.path(), port);
    traffic::wait_until_attached();

    let queries = dashboard_queries(|file| file.contains("health"));
    assert!(queries.len() >= 40, "{} queries", queries.len());
    let http = HttpServer::start();
    let (empty, round) = until_both_return_data(&queries, [&classic, &native], |round| {
        drive_workload(&watched, round, http.port);
        // A burst the 4 KiB ring cannot hold.
        traffic::Traffic::run(200, Duration::ZERO);
    });
    let report: Vec<String> = empty
        .iter()
        .map(|(at, expr)| format!("{at}: {expr}"))
        .collect();
    assert!(
        report.is_empty(),
        "health queries without data after {round} rounds:\n{}",
        report.join("\n")
    );
    eprintln!(
        "{TEST}: {} queries returned data on both Prometheus after {round} workload rounds",
        queries.len()
    );
    drop(cri);
}
