//! The shipped pipeline.yaml switches OTLP on from the standard environment variable
//! alone, as root: `kotel run` with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a real
//! receiver (rotel) sends it the connection metrics (at the latest with the final
//! collection at shutdown) and the exec log records; no file is edited.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kotel_integration_tests::containerd::ScratchDir;
use kotel_integration_tests::local_server::free_port;
use kotel_integration_tests::rotel::{self, Rotel};
use kotel_integration_tests::{is_root, kotel_binary, repo_root, skip, KillOnDrop};

#[test]
fn otel_exporter_otlp_endpoint_alone_turns_otlp_export_on() {
    const TEST: &str = "default_pipeline_otlp_from_env";
    if !is_root() {
        return skip(TEST, "needs root to load eBPF programs");
    }
    if let Err(why) = rotel::available() {
        return skip(TEST, &why);
    }
    let scratch = ScratchDir::new("defotlp").unwrap();
    let rotel = Rotel::start(scratch.path()).expect("rotel");
    let prometheus = format!("127.0.0.1:{}", free_port().unwrap());
    let mut child = KillOnDrop(
        Command::new(kotel_binary())
            .args(["run", "--config"])
            .arg(repo_root().join("pipeline.yaml"))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", rotel.http_endpoint())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("KOTEL_PROMETHEUS_LISTEN", &prometheus)
            .env("KOTEL_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kotel"),
    );
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = String::new();
    while !(log.contains("tcp source attached") && log.contains("exec source attached")) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => log.push_str(&(line + "\n")),
            Err(_) => panic!("sources not attached within 30 s:\n{log}"),
        }
    }
    assert!(log.contains("otlp exporter started"), "{log}");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for _ in 0..3 {
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = listener.accept().unwrap();
    }
    let marker = format!("kotel-default-{}", std::process::id());
    let _ = Command::new("/bin/echo").arg(&marker).output();
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));

    let received = rotel
        .wait_until(0, Duration::from_secs(10), |r| {
            r.last_metric("tcp.connection.opened").is_some_and(|m| {
                m.points
                    .iter()
                    .any(|p| p.value.as_f64().unwrap_or(0.0) >= 3.0)
            }) && r.logs.iter().any(|l| l.body.contains(&marker))
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", rotel.output_tail()));
    let opened = received.last_metric("tcp.connection.opened").unwrap();
    assert_eq!(
        opened.resource.get("service.name").map(String::as_str),
        Some("kotel")
    );
}
