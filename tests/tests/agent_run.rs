//! `kotel run` with the shipped pipeline.yaml, as root: it starts, serves live metrics on
//! its Prometheus endpoint, prints the watched-file opens this test makes and, on SIGTERM,
//! a final metrics summary with the TCP traffic this test made, and exits 0.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

    let (stderr_tx, stderr_rx) = mpsc::channel();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        let mut line = String::new();
        while stderr.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = stderr_tx.send(std::mem::take(&mut line));
        }
    });
    let (stdout_tx, stdout_rx) = mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = stdout_tx.send(line);
        }
    });

    // Wait until the tcp and file_open sources are attached (each logs its own line, in
    // any order).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = String::new();
    while !(log.contains("tcp source attached") && log.contains("file_open source attached")) {
        let line = stderr_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        match line {
            Ok(l) => log.push_str(&l),
            Err(_) => panic!(
                "kotel did not report the tcp and file_open sources attached within 30 s:\n{log}"
            ),
        }
    }

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
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let me = format!("pid={}", std::process::id());
    while !seen
        .iter()
        .any(|l: &String| l.contains("file_open") && l.contains("/etc/shadow") && l.contains(&me))
    {
        match stdout_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => seen.push(line),
            Err(_) => panic!(
                "no file_open line for /etc/shadow within 10 s; stdout:\n{}",
                seen.join("\n")
            ),
        }
    }
    // The Prometheus endpoint answers with the agent's live counters.
    let scrape = scrape_metrics(prometheus_port);
    assert!(
        scrape.contains(
            "kotel_component_events_received_total{component_id=\"tcp\",component_kind=\"source\"}"
        ),
        "{scrape}"
    );
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // Stopping, draining and flushing take milliseconds here; the 10 s
        // shutdown_timeout is a ceiling, not the expected time.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "kotel did not exit within 3 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    // The reader threads end at EOF, so these iterators see every remaining line.
    let rest: Vec<String> = stdout_rx.iter().collect();
    let log: String = log + &stderr_rx.iter().collect::<String>();
    assert!(
        rest.iter()
            .chain(&seen)
            .any(|l| l.contains("kotel telemetry: sources emitted=")),
        "a final telemetry summary is printed"
    );
    assert!(
        rest.iter()
            .chain(&seen)
            .any(|l| l.contains("tcp.connection.opened (counter, {connection})")),
        "the final collection's summary names the connection metrics:\n{}",
        rest.join("\n")
    );
    assert!(
        log.contains("shutdown complete"),
        "a clean shutdown, not a timeout:\n{log}"
    );
}

/// `GET /metrics` on 127.0.0.1:`port`.
fn scrape_metrics(port: u16) -> String {
    use std::io::Write;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the Prometheus endpoint");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).unwrap();
    body
}
