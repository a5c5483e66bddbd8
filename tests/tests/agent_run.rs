//! `kotel run` with the shipped pipeline.yaml, as root: it starts, prints the events of
//! traffic this test makes, and exits 0 on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kotel_integration_tests::{is_root, kotel_binary, repo_root, skip};

#[test]
fn default_pipeline_prints_live_tcp_events_and_exits_zero_on_sigterm() {
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
    let mut child = Command::new(&binary)
        .args(["run", "--config"])
        .arg(repo_root().join("pipeline.yaml"))
        .env("KOTEL_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting kotel");

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

    // Wait until the tcp source is attached (the other sources log their own lines, in
    // any order).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut log = String::new();
    while !log.contains("tcp source attached") {
        let line = stderr_rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        match line {
            Ok(l) => log.push_str(&l),
            Err(_) => panic!("kotel did not report the tcp source attached within 30 s:\n{log}"),
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

    let needle = format!("127.0.0.1:{port}");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(has(&seen, "tcp connect", &needle)
        && has(&seen, "tcp accept", &needle)
        && has(&seen, "tcp close", &needle))
    {
        match stdout_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => seen.push(line),
            Err(_) => panic!(
                "no connect/accept/close lines for port {port} within 10 s; stdout:\n{}",
                seen.join("\n")
            ),
        }
    }
    let me = format!("pid={}", std::process::id());
    assert!(
        seen.iter()
            .any(|l| l.contains("tcp connect") && l.contains(&needle) && l.contains(&me)),
        "{seen:#?}"
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
        log.contains("shutdown complete"),
        "a clean shutdown, not a timeout:\n{log}"
    );
}

fn has(lines: &[String], what: &str, needle: &str) -> bool {
    lines.iter().any(|l| l.contains(what) && l.contains(needle))
}
