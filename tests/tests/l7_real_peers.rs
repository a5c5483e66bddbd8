//! The `l7` source against servers and clients kotel did not write, inside a network
//! namespace, with the spans read back from two real OTLP receivers (rotel over gRPC and
//! over HTTP/protobuf): Python's `http.server` (HTTP/1.1 keep-alive) and Debian's nginx
//! (static files through `sendfile`, HEAD, 404, `Connection: close`), driven by curl, a
//! pipelining client on a raw socket, and a client instrumented with the OpenTelemetry
//! Python SDK that sends a `traceparent`.
//!
//! Needs root, `scripts/setup-receivers.sh` (rotel and the SDK's venv, nginx, curl) and
//! `ip netns`; skipped, saying so, without them.

#[path = "l7_real_peers/netns.rs"]
mod netns;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kotel_integration_tests::agent::Agent;
use kotel_integration_tests::containerd::ScratchDir;
use kotel_integration_tests::rotel::{self, ReceivedSpan, Rotel};
use kotel_integration_tests::{is_root, skip};
use netns::Netns;

const NGINX_PORT: u16 = 8081;
const BIG: usize = 100_000;

fn ready(test: &str) -> bool {
    if !is_root() {
        skip(test, "the l7 source needs root");
        return false;
    }
    if let Err(why) = rotel::available() {
        skip(test, &why);
        return false;
    }
    for tool in ["python3", "nginx", "curl", "ip"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            skip(
                test,
                &format!("{tool} is not installed (scripts/setup-receivers.sh)"),
            );
            return false;
        }
    }
    true
}

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/l7_real_peers")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The nginx master; stopped with SIGTERM on drop, which ends its workers too (a SIGKILL
/// would leave them running).
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

/// An nginx serving `dir/www` on 127.0.0.1:NGINX_PORT with `sendfile on`.
fn nginx_config(dir: &Path) -> std::path::PathBuf {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("big.bin"), vec![b'b'; BIG]).unwrap();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  client_body_temp_path {d}/tmp;\n\
           proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n\
           scgi_temp_path {d}/tmp;\n\
           server {{ listen 127.0.0.1:{NGINX_PORT}; root {d}/www; }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    path
}

/// `url.path` of a server span, the path of `url.full` of a client span.
fn path_of(span: &ReceivedSpan) -> String {
    if let Some(p) = span.attributes.get("url.path") {
        return p.clone();
    }
    let full = span.attributes.get("url.full").cloned().unwrap_or_default();
    let after_scheme = full.split_once("://").map_or(full.as_str(), |(_, r)| r);
    after_scheme
        .find('/')
        .map_or("/".to_string(), |i| after_scheme[i..].to_string())
}

fn attr<'a>(span: &'a ReceivedSpan, key: &str) -> &'a str {
    span.attributes.get(key).map_or("", String::as_str)
}

/// The spans of our servers (by `server.port`), by (kind, path).
fn ours(spans: &[ReceivedSpan], ports: &[u16]) -> BTreeMap<(String, String), Vec<ReceivedSpan>> {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for s in spans {
        let port: u16 = attr(s, "server.port").parse().unwrap_or(0);
        if ports.contains(&port) {
            out.entry((s.kind.clone(), path_of(s)))
                .or_default()
                .push(s.clone());
        }
    }
    out
}

/// Waits until `rotel` holds `n` spans of our servers.
fn wait_spans(rotel: &Rotel, ports: &[u16], n: usize, within: Duration) -> Vec<ReceivedSpan> {
    let end = Instant::now() + within;
    loop {
        let spans: Vec<_> = ours(&rotel.spans(), ports)
            .into_values()
            .flatten()
            .collect();
        if spans.len() >= n || Instant::now() > end {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn real_servers_and_clients_give_exact_spans_over_grpc_and_http() {
    if !ready("l7_real_peers") {
        return;
    }
    let dir = ScratchDir::new("l7-peers").unwrap();
    for sub in ["grpc", "http", "tmp"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let grpc = Rotel::start(&dir.path().join("grpc")).expect("rotel (gRPC)");
    let http = Rotel::start(&dir.path().join("http")).expect("rotel (HTTP)");
    let yaml = format!(
        "sources:\n  l7: {{ batch_timeout: 50ms, request_timeout: 5s }}\n\
         exporters:\n  otlp: {{ endpoint: '{}', protocol: grpc }}\n  \
         otlp/http: {{ endpoint: '{}', protocol: http/protobuf }}\n\
         processors:\n  aggregate: {{ interval: 1s }}\n\
         pipelines:\n  traces: {{ sources: [l7], exporters: [otlp, otlp/http] }}\n  \
         metrics: {{ sources: [l7], processors: [aggregate], exporters: [otlp] }}\n",
        grpc.grpc_endpoint(),
        http.http_endpoint(),
    );
    let mut agent = Agent::start_exporting(&yaml);
    let ns = Netns::create();
    let (_python, port) = ns.spawn_reading("python3", &[&script("server.py")]);
    let py: u16 = port.parse().expect("the Python server's port");
    let conf = nginx_config(dir.path());
    let nginx = Nginx(
        ns.command(
            "nginx",
            &[
                "-c",
                &conf.to_string_lossy(),
                "-p",
                &dir.path().to_string_lossy(),
            ],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting nginx"),
    );
    let url = |port: u16, path: &str| format!("http://127.0.0.1:{port}{path}");
    // Attached once a request shows up (nginx is listening by then too).
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        ns.run("curl", &["-s", "-o", "/dev/null", &url(py, "/warm-up")]);
        if !wait_spans(&grpc, &[py], 1, Duration::from_millis(500)).is_empty() {
            break;
        }
        assert!(Instant::now() < end, "no span within 30 s");
    }
    std::thread::sleep(Duration::from_millis(500));
    let (grpc_mark, http_mark) = (grpc.mark(), http.mark());

    // curl keeps one connection for its URLs.
    ns.run(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            &url(py, "/sleep/100"),
            &url(py, "/users/42"),
            &url(py, "/fail"),
        ],
    );
    // nginx: a file sent with sendfile, HEAD, a 404, and Connection: close.
    ns.run(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-H",
            "Connection: close",
            &url(NGINX_PORT, "/big.bin"),
        ],
    );
    ns.run(
        "curl",
        &["-s", "-I", "-o", "/dev/null", &url(NGINX_PORT, "/big.bin")],
    );
    ns.run(
        "curl",
        &["-s", "-o", "/dev/null", &url(NGINX_PORT, "/missing")],
    );
    // Three requests in one write.
    ns.run("python3", &[&script("pipelining.py"), &py.to_string()]);
    // The SDK's span and the traceparent it sends.
    let venv = rotel::venv_python();
    let ids = ns.run(
        &venv.to_string_lossy(),
        &[&script("sdk_client.py"), &py.to_string()],
    );
    let (sdk_trace, sdk_span) = ids.trim().split_once(' ').expect("trace and span ids");

    let ports = [py, NGINX_PORT];
    let want = 2 * (3 + 3 + 3 + 1);
    let _ = wait_spans(&grpc, &ports, want, Duration::from_secs(15));
    let _ = wait_spans(&http, &ports, want, Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(500));
    let by_grpc = ours(&grpc.received_since(grpc_mark).spans, &ports);
    let by_http = ours(&http.received_since(http_mark).spans, &ports);
    let counts = |m: &BTreeMap<(String, String), Vec<ReceivedSpan>>| {
        m.iter()
            .map(|((kind, path), v)| (kind.clone(), path.clone(), v.len()))
            .collect::<Vec<_>>()
    };
    let mut expected = Vec::new();
    for path in [
        "/big.bin",
        "/fail",
        "/missing",
        "/pipe/0",
        "/pipe/1",
        "/pipe/2",
        "/sleep/100",
        "/traced",
        "/users/42",
    ] {
        let n = if path == "/big.bin" { 2 } else { 1 };
        expected.push(("SPAN_KIND_CLIENT".to_string(), path.to_string(), n));
        expected.push(("SPAN_KIND_SERVER".to_string(), path.to_string(), n));
    }
    expected.sort();
    assert_eq!(counts(&by_grpc), expected, "over gRPC");
    assert_eq!(counts(&by_http), expected, "over HTTP");
    // Both transports carry the same spans.
    for (key, spans) in &by_grpc {
        let ids = |v: &Vec<ReceivedSpan>| {
            let mut ids: Vec<_> = v
                .iter()
                .map(|s| (s.trace_id.clone(), s.span_id.clone()))
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(spans), ids(&by_http[key]), "{key:?}");
    }
    let one = |kind: &str, path: &str| by_grpc[&(kind.to_string(), path.to_string())][0].clone();
    let server = |path: &str| one("SPAN_KIND_SERVER", path);
    let client = |path: &str| one("SPAN_KIND_CLIENT", path);

    // Python's server: statuses, the route, its sleep as ground truth, joined to curl.
    for (path, status) in [
        ("/sleep/100", "200"),
        ("/users/42", "200"),
        ("/fail", "500"),
    ] {
        let (s, c) = (server(path), client(path));
        assert_eq!(attr(&s, "http.response.status_code"), status, "{path}");
        assert_eq!(attr(&c, "http.response.status_code"), status, "{path}");
        assert_eq!(
            (s.trace_id.as_str(), s.parent_span_id.as_str()),
            (c.trace_id.as_str(), c.span_id.as_str()),
            "{path}"
        );
        assert_eq!(attr(&c, "process.executable.name"), "curl");
        assert_eq!(attr(&s, "network.protocol.version"), "1.1");
    }
    let slept = server("/sleep/100");
    let took = slept.end_time_unix_nano - slept.start_time_unix_nano;
    eprintln!(
        "l7_real_peers: python /sleep/100 took {:.3} ms",
        took as f64 / 1e6
    );
    assert!((100_000_000..130_000_000).contains(&took), "{took} ns");
    assert_eq!(attr(&server("/users/42"), "http.route"), "/users/{id}");
    assert_eq!(server("/fail").status_code, "STATUS_CODE_ERROR");
    assert_eq!(client("/fail").status_code, "STATUS_CODE_ERROR");

    // nginx: the body went through sendfile; HEAD has none; a 404 is a client error only.
    let big = &by_grpc[&("SPAN_KIND_SERVER".to_string(), "/big.bin".to_string())];
    let methods: Vec<_> = big
        .iter()
        .map(|s| attr(s, "http.request.method").to_string())
        .collect();
    assert!(
        methods.contains(&"GET".to_string()) && methods.contains(&"HEAD".to_string()),
        "{methods:?}"
    );
    for s in big {
        assert_eq!(attr(s, "http.response.status_code"), "200");
        assert_eq!(attr(s, "process.executable.name"), "nginx");
        let size = if attr(s, "http.request.method") == "GET" {
            BIG.to_string()
        } else {
            String::new()
        };
        assert_eq!(
            attr(s, "http.response.body.size"),
            size,
            "a HEAD response has no body"
        );
    }
    assert_eq!(
        attr(&server("/missing"), "http.response.status_code"),
        "404"
    );
    assert_eq!(server("/missing").status_code, "STATUS_CODE_UNSET");
    assert_eq!(client("/missing").status_code, "STATUS_CODE_ERROR");

    // Pipelined requests, answered in order.
    for i in 0..3 {
        let path = format!("/pipe/{i}");
        assert_eq!(attr(&server(&path), "http.response.status_code"), "200");
        assert_eq!(server(&path).parent_span_id, client(&path).span_id);
    }

    // The SDK's traceparent: the server span in its trace, under its span; kotel's client
    // span is the SDK's span itself.
    let (s, c) = (server("/traced"), client("/traced"));
    assert_eq!(
        (s.trace_id.as_str(), s.parent_span_id.as_str()),
        (sdk_trace, sdk_span)
    );
    assert_eq!(
        (c.trace_id.as_str(), c.span_id.as_str()),
        (sdk_trace, sdk_span)
    );

    exemplars_name_received_spans(&grpc, &slept);

    drop(nginx);
    agent.stop();
}

/// Every exemplar of the request-duration histograms that reached `rotel` names a span it
/// received, with that span's duration as its value; one of them is `slept`.
fn exemplars_name_received_spans(rotel: &Rotel, slept: &ReceivedSpan) {
    let exemplars = |received: &rotel::Received| {
        received
            .metrics
            .iter()
            .filter(|m| m.name.starts_with("http.") && m.name.ends_with(".request.duration"))
            .flat_map(|m| m.points.iter().flat_map(|p| p.exemplars.clone()))
            .collect::<Vec<_>>()
    };
    let received = rotel
        .wait_until(0, Duration::from_secs(15), |r| {
            exemplars(r).iter().any(|e| e.span_id == slept.span_id)
        })
        .unwrap_or_else(|e| panic!("no exemplar of the /sleep/100 span: {e}"));
    let spans: BTreeMap<(String, String), ReceivedSpan> = rotel
        .spans()
        .into_iter()
        .map(|s| ((s.trace_id.clone(), s.span_id.clone()), s))
        .collect();
    let all = exemplars(&received);
    for e in &all {
        let span = spans
            .get(&(e.trace_id.clone(), e.span_id.clone()))
            .unwrap_or_else(|| panic!("exemplar {e:?} names no span received"));
        let took = (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / 1e9;
        assert!(
            (e.value - took).abs() <= 1e-6 + took * 1e-6,
            "exemplar {e:?}: the span took {took} s"
        );
        assert_eq!(e.time_unix_nano, span.end_time_unix_nano, "{e:?}");
    }
    eprintln!(
        "l7_real_peers: {} exemplars, each naming a span received with its duration",
        all.len()
    );
}
