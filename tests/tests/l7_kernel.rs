//! The `l7` source against the real kernel, as root: the real programs on the socket
//! syscall tracepoints, an HTTP/1.1 server and clients in processes of their own
//! (`kotel-test-http`: the agent does not follow its own sockets), and the exact spans
//! they must give: every request once on each side, in order, with the server's own
//! timing as ground truth, joined into one trace on this node; and what must give none
//! (garbage, TLS) or an error (no response, a dropped connection), counted.
//!
//! Without root the tests print why and return (skip). They run on every kernel of the
//! matrix (the helper is a static-enough Rust binary; no Python in the guests).

#[path = "l7_kernel/peers.rs"]
mod peers;

use std::time::Duration;

use kotel::event::{HttpFailure, HttpSide};
use kotel::sources::l7::{tracker, L7SourceConfig, KERNEL_EVENTS};
use kotel_integration_tests::{is_root, skip};

use peers::{counter, serial, Server, Source};

const MS: u64 = 1_000_000;

#[test]
fn keep_alive_requests_give_exact_spans_timed_by_the_kernel_and_joined() {
    if !is_root() {
        return skip("l7_keep_alive", "loading kernel programs needs root");
    }
    let _serial = serial();
    let server = Server::start();
    let mut source = Source::start(L7SourceConfig::default(), &server);
    let paths = [
        "/sleep/50",
        "/sleep/120",
        "/users/123",
        "/fail",
        "HEAD:/head",
        "POST:/upload",
        "/big/100000",
    ];
    server.run("client", &paths);
    let spans = source.spans_until(&server, 2 * paths.len(), Duration::from_secs(10));
    let servers = peers::side(&spans, HttpSide::Server);
    let clients = peers::side(&spans, HttpSide::Client);
    let got: Vec<_> = servers
        .iter()
        .map(|e| (e.method.as_str(), e.path.as_str(), e.status))
        .collect();
    assert_eq!(
        got,
        [
            ("GET", "/sleep/50", 200),
            ("GET", "/sleep/120", 200),
            ("GET", "/users/123", 200),
            ("GET", "/fail", 500),
            ("HEAD", "/head", 200),
            ("POST", "/upload", 200),
            ("GET", "/big/100000", 200),
        ]
    );
    assert_eq!(clients.len(), servers.len());
    for (s, c) in servers.iter().zip(&clients) {
        assert_eq!((s.path.as_str(), s.status), (c.path.as_str(), c.status));
        // One trace: the server span under the client span of the same request.
        assert_eq!(s.trace_id, c.trace_id, "{}", s.path);
        assert_eq!(s.parent_span_id, Some(c.span_id), "{}", s.path);
        assert!(c.parent_span_id.is_none());
        // The client's span contains the server's: it starts before, and ends no earlier
        // than a moment before. The client's read can return while the server's write
        // syscall, which queued the bytes, has yet to: the server thread may wait for a
        // CPU to return from it (seen on 5.10 under qemu, where that wait is long).
        assert!(
            c.start_time_unix_nano <= s.start_time_unix_nano,
            "{}",
            s.path
        );
        assert!(
            c.end_time_unix_nano + 20 * MS >= s.end_time_unix_nano,
            "{}: the client's span ends {} ns before the server's",
            s.path,
            s.end_time_unix_nano - c.end_time_unix_nano
        );
        assert_eq!(
            (s.version.as_str(), s.failure, c.failure),
            ("1.1", None, None)
        );
        assert_eq!((s.local_port, c.peer_port), (server.port, server.port));
        assert_eq!((s.peer_port, c.local_port), (c.local_port, s.peer_port));
        assert_eq!(s.host, "test");
    }
    // Ground truth: the server sleeps before it answers.
    for (i, sleep_ms) in [(0, 50), (1, 120)] {
        let took = servers[i].end_time_unix_nano - servers[i].start_time_unix_nano;
        eprintln!(
            "l7_keep_alive: /sleep/{sleep_ms} took {:.3} ms",
            took as f64 / 1e6
        );
        assert!(
            (sleep_ms * MS..(sleep_ms + 30) * MS).contains(&took),
            "/sleep/{sleep_ms} took {took} ns"
        );
    }
    assert_eq!(servers[2].route, "/users/{id}");
    assert!(servers[3].is_error() && !servers[2].is_error());
    assert_eq!(servers[5].request_body_bytes, Some(10));
    assert_eq!(servers[6].response_body_bytes, Some(100_000));
    assert_eq!(clients[6].response_body_bytes, Some(100_000));
    source.stop();
}

#[test]
fn pipelined_requests_reused_descriptors_and_a_thousand_connections() {
    if !is_root() {
        return skip("l7_pipelining", "loading kernel programs needs root");
    }
    let _serial = serial();
    let server = Server::start();
    let mut source = Source::start(L7SourceConfig::default(), &server);
    let full_before = counter(KERNEL_EVENTS, &[("stat", "ringbuf_full")]);
    // Three requests in one write, answered in order.
    server.run("pipeline", &["/p1", "/sleep/30", "/p3"]);
    let spans = source.spans_until(&server, 6, Duration::from_secs(10));
    for side in [HttpSide::Server, HttpSide::Client] {
        let paths: Vec<_> = peers::side(&spans, side)
            .iter()
            .map(|e| e.path.clone())
            .collect();
        assert_eq!(paths, ["/p1", "/sleep/30", "/p3"], "{side:?}");
    }
    // A descriptor closed and opened again 50 times: no state outlives it.
    server.run("reconnect", &["50"]);
    let spans = source.spans_until(&server, 100, Duration::from_secs(10));
    assert!(spans
        .iter()
        .all(|e| e.path == "/r" && e.status == 200 && e.failure.is_none()));
    // 1000 connections open at once, one request each.
    server.run("concurrent", &["1000"]);
    let spans = source.spans_until(&server, 2000, Duration::from_secs(30));
    for side in [HttpSide::Server, HttpSide::Client] {
        let of_side = peers::side(&spans, side);
        assert_eq!(of_side.len(), 1000, "{side:?}");
        assert!(of_side.iter().all(|e| e.path == "/c" && e.status == 200));
    }
    let ports: std::collections::HashSet<_> = peers::side(&spans, HttpSide::Server)
        .iter()
        .map(|e| e.peer_port)
        .collect();
    assert_eq!(ports.len(), 1000, "one span per connection");
    assert_eq!(
        counter(KERNEL_EVENTS, &[("stat", "ringbuf_full")]) - full_before,
        0.0
    );
    source.stop();
}

#[test]
fn no_response_dropped_connections_garbage_tls_slow_and_long_heads() {
    if !is_root() {
        return skip("l7_faults", "loading kernel programs needs root");
    }
    let _serial = serial();
    let server = Server::start();
    let config = L7SourceConfig {
        request_timeout: Duration::from_secs(1),
        ..L7SourceConfig::default()
    };
    let mut source = Source::start(config, &server);
    let stat = |s: &str| counter(KERNEL_EVENTS, &[("stat", s)]);
    let skipped = |r: &str| counter(tracker::SKIPPED, &[("reason", r)]);
    let (tls, other, cut) = (stat("tls"), stat("other_protocol"), skipped("head_cut"));

    // No response within request_timeout: both sides end as errors.
    server.run("raw", &["mute"]);
    let spans = source.spans_until(&server, 2, Duration::from_secs(5));
    for e in &spans {
        assert_eq!((e.path.as_str(), e.status), ("/mute", 0));
        assert_eq!(e.failure, Some(HttpFailure::Timeout), "{:?}", e.side);
        let waited = e.end_time_unix_nano - e.start_time_unix_nano;
        assert!((1_000 * MS..3_000 * MS).contains(&waited), "{waited} ns");
    }
    // The server closes instead of answering.
    server.run("raw", &["abandon"]);
    let spans = source.spans_until(&server, 2, Duration::from_secs(5));
    for e in &spans {
        assert_eq!(e.path, "/drop");
        assert_eq!(
            e.failure,
            Some(HttpFailure::ConnectionClosed),
            "{:?}",
            e.side
        );
    }
    // A response peeked at (MSG_PEEK) before it is read is seen once.
    let unmatched = skipped("response_without_request");
    server.run("raw", &["peek"]);
    let spans = source.spans_until(&server, 2, Duration::from_secs(5));
    assert!(spans
        .iter()
        .all(|e| e.path == "/peek" && e.status == 200 && e.failure.is_none()));
    assert_eq!(skipped("response_without_request"), unmatched);
    // Not HTTP: no span, counted by the kernel, which stops following the socket.
    server.run("raw", &["garbage"]);
    server.run("raw", &["tls"]);
    // A head one byte per write, and a head longer than the capture.
    server.run("raw", &["slow"]);
    server.run("raw", &["longhead"]);
    let spans = source.spans_until(&server, 6, Duration::from_secs(5));
    let mut paths: Vec<_> = spans
        .iter()
        .map(|e| (e.path.as_str(), e.status, e.side))
        .collect();
    paths.sort_by_key(|(p, _, side)| (p.to_string(), *side == HttpSide::Client));
    assert_eq!(
        paths,
        [
            ("/after", 200, HttpSide::Server),
            ("/after", 200, HttpSide::Client),
            ("/long", 200, HttpSide::Server),
            ("/long", 200, HttpSide::Client),
            ("/slow", 200, HttpSide::Server),
            ("/slow", 200, HttpSide::Client),
        ]
    );
    // The kernel's counters reach the agent's telemetry once a second.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(stat("tls") - tls >= 1.0, "a TLS first byte is counted");
    assert!(stat("other_protocol") - other >= 1.0, "garbage is counted");
    assert!(
        skipped("head_cut") - cut >= 2.0,
        "the cut head is counted on both sides"
    );
    source.stop();
}

#[test]
fn connections_established_before_the_source_started_are_followed() {
    if !is_root() {
        return skip("l7_adopt", "loading kernel programs needs root");
    }
    let _serial = serial();
    let server = Server::start();
    // A keep-alive connection made, and accepted, before the programs are attached.
    let early = peers::Early::connect(&server, &["/users/7", "/fail", "/sleep/30"]);
    let mut source = Source::start(L7SourceConfig::default(), &server);
    let unpaired = || counter(tracker::SKIPPED, &[("reason", "response_without_request")]);
    let unpaired_before = unpaired();
    early.go();
    // The server's thread was already inside `read` when the connection was found: that
    // read (the first request) is not seen, and its response pairs with nothing. Every
    // later request is followed on both sides.
    let spans = source.spans_until(&server, 5, Duration::from_secs(10));
    let servers = peers::side(&spans, HttpSide::Server);
    let clients = peers::side(&spans, HttpSide::Client);
    let paths = |v: &[kotel::event::HttpEvent]| {
        v.iter()
            .map(|e| (e.path.clone(), e.status))
            .collect::<Vec<_>>()
    };
    let want = [
        ("/users/7".to_string(), 200),
        ("/fail".to_string(), 500),
        ("/sleep/30".to_string(), 200),
    ];
    assert_eq!(paths(&clients), want);
    assert_eq!(paths(&servers), want[1..]);
    assert_eq!(unpaired() - unpaired_before, 1.0);
    for (s, c) in servers.iter().zip(&clients[1..]) {
        assert_eq!((s.local_port, c.peer_port), (server.port, server.port));
        assert_eq!(s.peer_port, c.local_port);
        assert_eq!(s.trace_id, c.trace_id, "joined on this node");
    }
    let took = servers[1].end_time_unix_nano - servers[1].start_time_unix_nano;
    assert!(
        (30 * MS..60 * MS).contains(&took),
        "/sleep/30 took {took} ns"
    );
    source.stop();
}
