//! `kotel run` with the shipped pipeline.yaml, as root: it starts, serves live metrics on
//! its Prometheus endpoint, prints the watched-file opens this test makes and, on SIGTERM,
//! a final metrics summary with the TCP traffic this test made, and exits 0.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use kotel_integration_tests::agent_process::{scrape, sigterm_and_wait, Lines};

use kotel_integration_tests::{is_root, kotel_binary, repo_root, skip, KillOnDrop};

#[test]
fn default_pipeline_serves_metrics_prints_security_events_and_exits_zero_on_sigterm() {
    if !is_root() {
        return skip(
            "default_pipeline_prints_live_tcp_events",
            "needs root to load eBPF programs",
        );
    }
    let binary = kotel_binary();
    assert!(
        binary.exists(),
        "{} missing: run `cargo build` first (scripts/test.sh does)",
        binary.display()
    );
    // A port of its own: a user's agent (or another test's) may hold the default 9464.
    let prometheus_port = kotel_integration_tests::local_server::free_port().unwrap();
    let mut child = KillOnDrop(
        Command::new(&binary)
            .args(["run", "--config"])
            .arg(repo_root().join("pipeline.yaml"))
            .env("KOTEL_LOG", "info")
            .env(
                "KOTEL_PROMETHEUS_LISTEN",
                format!("127.0.0.1:{prometheus_port}"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting kotel"),
    );

    let mut stderr = Lines::follow(child.stderr.take().unwrap());
    let mut stdout = Lines::follow(child.stdout.take().unwrap());

    // Wait until the tcp and file_open sources are attached (each logs its own line, in
    // any order).
    stderr
        .wait_until(Duration::from_secs(30), |log| {
            log.contains("tcp source attached") && log.contains("file_open source attached")
        })
        .unwrap_or_else(|log| {
            panic!(
                "kotel did not report the tcp and file_open sources attached within 30 s:\n{log}"
            )
        });

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for _ in 0..3 {
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (server, _) = listener.accept().unwrap();
        drop(server);
        let _ = client.read(&mut [0u8; 1]);
    }

    // A watched file is opened: the security pipeline prints it.
    let _ = std::fs::read("/etc/shadow");
    let me = format!("pid={}", std::process::id());
    stdout
        .wait_until(Duration::from_secs(10), |out| {
            out.lines()
                .any(|l| l.contains("file_open") && l.contains("/etc/shadow") && l.contains(&me))
        })
        .unwrap_or_else(|out| {
            panic!("no file_open line for /etc/shadow within 10 s; stdout:\n{out}")
        });
    // The Prometheus endpoint answers with the agent's live counters.
    let scrape = scrape(prometheus_port);
    assert!(
        scrape.contains(
            "kotel_component_events_received_total{component_id=\"tcp\",component_kind=\"source\"}"
        ),
        "{scrape}"
    );
    // Stopping, draining and flushing take milliseconds here; the 10 s shutdown_timeout
    // is a ceiling, not the expected time.
    let status = sigterm_and_wait(&mut child, Duration::from_secs(3));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    // The reader threads end at EOF, so these see every remaining line.
    let out = stdout.drain();
    let log = stderr.drain();
    assert!(
        out.contains("kotel telemetry: sources emitted="),
        "a final telemetry summary is printed"
    );
    assert!(
        out.contains("tcp.connection.opened (counter, {connection})"),
        "the final collection's summary names the connection metrics:\n{out}"
    );
    assert!(
        log.contains("shutdown complete"),
        "a clean shutdown, not a timeout:\n{log}"
    );
}
