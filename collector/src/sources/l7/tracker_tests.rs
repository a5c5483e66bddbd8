use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::sources::l7::records::{ConnKey, Header, Opened, Record};

const KEY: ConnKey = ConnKey { tgid: 100, fd: 7 };
const OPENED: u64 = 1_000;

fn tracker() -> Tracker {
    let limits = Limits {
        request_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(60),
        max_connections: 16,
    };
    Tracker::new(
        "l7",
        limits,
        Routes::new(&[]).0,
        ClockOffset::fixed(0),
        "/nonexistent-proc".into(),
    )
}

fn header(key: ConnKey, opened_ns: u64, start_ns: u64, end_ns: u64, size: u64) -> Header {
    Header {
        key,
        opened_ns,
        start_ns,
        end_ns,
        size,
        offset: 0,
        flags: 0,
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Opens `key` as a server (or client) connection between 10.0.0.1:8080 and
/// 10.0.0.2:40000.
fn open(t: &mut Tracker, key: ConnKey, opened_ns: u64, server: bool) -> Vec<Event> {
    let (local, peer) = if server {
        (addr("10.0.0.1:8080"), addr("10.0.0.2:40000"))
    } else {
        (addr("10.0.0.2:40000"), addr("10.0.0.1:8080"))
    };
    let mut out = Vec::new();
    t.record(
        Record::Open(
            header(key, opened_ns, opened_ns, opened_ns, 0),
            Opened {
                server,
                cgroup_id: 42,
                comm: "app".into(),
                local,
                peer,
            },
        ),
        &mut out,
    );
    out
}

/// One read or write of all of `bytes` between `start` and `end`.
fn io(t: &mut Tracker, send: bool, start: u64, end: u64, bytes: &[u8]) -> Vec<HttpEvent> {
    io_sized(t, KEY, OPENED, send, start, end, bytes, bytes.len() as u64)
}

#[allow(clippy::too_many_arguments)]
fn io_sized(
    t: &mut Tracker,
    key: ConnKey,
    opened_ns: u64,
    send: bool,
    start: u64,
    end: u64,
    bytes: &[u8],
    size: u64,
) -> Vec<HttpEvent> {
    let mut out = Vec::new();
    t.record(
        Record::Data {
            header: header(key, opened_ns, start, end, size),
            send,
            bytes,
        },
        &mut out,
    );
    https(out)
}

fn https(events: Vec<Event>) -> Vec<HttpEvent> {
    events
        .into_iter()
        .map(|e| match e {
            Event::Http(h) => h,
            other => panic!("not an http event: {other:?}"),
        })
        .collect()
}

const RECV: bool = false;
const SEND: bool = true;

#[test]
fn keep_alive_server_exchanges_are_paired_in_order_with_kernel_times() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    assert!(io(
        &mut t,
        RECV,
        10,
        11,
        b"GET /users/42?x=1 HTTP/1.1\r\nHost: api:8080\r\n\r\n"
    )
    .is_empty());
    let ev = io(
        &mut t,
        SEND,
        20,
        21,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(
        (e.side, e.method.as_str(), e.path.as_str()),
        (HttpSide::Server, "GET", "/users/42")
    );
    assert_eq!(
        (e.route.as_str(), e.status, e.host.as_str()),
        ("/users/{id}", 200, "api")
    );
    // Server: from the read that returned the request to the write that sent the end.
    assert_eq!((e.start_time_unix_nano, e.end_time_unix_nano), (11, 21));
    assert_eq!((e.pid, e.cgroup_id, &*e.comm), (100, 42, "app"));
    assert_eq!(
        (e.local_address.to_string().as_str(), e.local_port),
        ("10.0.0.1", 8080)
    );
    assert_eq!(
        (e.peer_address.to_string().as_str(), e.peer_port),
        ("10.0.0.2", 40000)
    );
    assert_eq!(
        (e.response_body_bytes, e.request_body_bytes),
        (Some(5), None)
    );
    assert!(!e.trace_id.is_zero() && !e.span_id.is_zero());
    assert!(e.parent_span_id.is_none() && e.failure.is_none() && !e.is_error());
    let ev = io(&mut t, RECV, 30, 31, b"DELETE /x HTTP/1.1\r\n\r\n");
    assert!(ev.is_empty());
    let ev = io(
        &mut t,
        SEND,
        40,
        41,
        b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!((ev[0].method.as_str(), ev[0].status), ("DELETE", 503));
    assert!(ev[0].is_error());
    assert_ne!(
        ev[0].trace_id, e.trace_id,
        "a new trace per request without traceparent"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order_even_in_one_read() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, false);
    let requests = b"GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
    assert!(io(&mut t, SEND, 5, 6, requests).is_empty());
    // The HEAD response announces a body it does not carry.
    let responses = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nHTTP/1.1 404 NF\r\nContent-Length: 1\r\n\r\nx";
    let ev = io(&mut t, RECV, 50, 60, responses);
    let got: Vec<_> = ev
        .iter()
        .map(|e| (e.path.as_str(), e.method.as_str(), e.status))
        .collect();
    assert_eq!(
        got,
        [("/1", "GET", 200), ("/2", "HEAD", 200), ("/3", "GET", 404)]
    );
    // Client: from the write's start to the read that brought the end.
    assert!(ev
        .iter()
        .all(|e| e.start_time_unix_nano == 5 && e.end_time_unix_nano == 60));
    assert!(ev[2].is_error(), "a 4xx is a client error");
}

#[test]
fn heads_split_over_reads_and_chunked_bodies_over_many_reads_are_followed() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    io(&mut t, RECV, 1, 2, b"POST /up");
    io(
        &mut t,
        RECV,
        3,
        4,
        b"load HTTP/1.1\r\nTransfer-Encoding: chu",
    );
    io(&mut t, RECV, 5, 6, b"nked\r\n\r\n4\r\nab");
    io(&mut t, RECV, 7, 8, b"cd\r\n3\r\nefg\r\n");
    io(&mut t, RECV, 9, 10, b"0\r\n\r\n");
    let ev = io(
        &mut t,
        SEND,
        11,
        12,
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert!(ev.is_empty(), "the response body is still to come");
    io(&mut t, SEND, 13, 14, b"5\r\nhello\r\n");
    let ev = io(&mut t, SEND, 15, 16, b"0\r\n\r\n");
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].path.as_str(), ev[0].status), ("/upload", 201));
    assert_eq!(
        (ev[0].start_time_unix_nano, ev[0].end_time_unix_nano),
        (2, 16)
    );
}

#[test]
fn interim_responses_answer_nothing_and_100_continue_keeps_the_request() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, false);
    io(
        &mut t,
        SEND,
        1,
        2,
        b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    );
    assert!(io(&mut t, RECV, 3, 4, b"HTTP/1.1 100 Continue\r\n\r\n").is_empty());
    io(&mut t, SEND, 5, 6, b"abc");
    let ev = io(&mut t, RECV, 7, 8, b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(
        (ev.len(), ev[0].status, ev[0].request_body_bytes),
        (1, 204, Some(3))
    );
}

#[test]
fn bodies_beyond_the_capture_are_counted_by_the_bytes_moved() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, false);
    io(&mut t, SEND, 1, 2, b"GET /big HTTP/1.1\r\n\r\n");
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n";
    let captured = [head.as_slice(), &[b'x'; 64]].concat();
    // 4000 bytes moved, the first 107 captured.
    let ev = io_sized(&mut t, KEY, OPENED, RECV, 3, 4, &captured, 4000);
    assert!(ev.is_empty());
    let left = 10000 - (4000 - head.len() as u64);
    let ev = io_sized(&mut t, KEY, OPENED, RECV, 5, 6, &[b'x'; 64], left);
    assert_eq!(
        (
            ev.len(),
            ev[0].response_body_bytes,
            ev[0].end_time_unix_nano
        ),
        (1, Some(10000), 6)
    );
    // And the connection is in step for the next exchange.
    io(&mut t, SEND, 7, 8, b"GET /next HTTP/1.1\r\n\r\n");
    let ev = io(
        &mut t,
        RECV,
        9,
        10,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(ev[0].path, "/next");
}

#[test]
fn a_head_longer_than_the_capture_gives_what_its_lines_say_and_resyncs() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    let head = b"GET /long HTTP/1.1\r\nHost: h\r\nCookie: aaaaaaaaaaaaaaaa";
    io_sized(&mut t, KEY, OPENED, RECV, 1, 2, head, 9000);
    let ev = io(
        &mut t,
        SEND,
        3,
        4,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    );
    assert_eq!(
        (ev.len(), ev[0].path.as_str(), ev[0].host.as_str()),
        (1, "/long", "h")
    );
    // The request stream resyncs at the next request.
    io(&mut t, RECV, 5, 6, b"GET /after HTTP/1.1\r\n\r\n");
    let ev = io(
        &mut t,
        SEND,
        7,
        8,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(ev[0].path, "/after");
}

#[test]
fn unanswered_requests_time_out_and_closed_connections_fail_what_is_pending() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, false);
    io(&mut t, SEND, 1_000, 1_001, b"GET /slow HTTP/1.1\r\n\r\n");
    let mut out = Vec::new();
    t.sweep(1_000 + 4_000_000_000, &mut out);
    assert!(out.is_empty(), "not yet 5 s");
    t.sweep(1_000 + 5_000_000_000, &mut out);
    let ev = https(out);
    assert_eq!(
        (ev.len(), ev[0].failure, ev[0].status),
        (1, Some(HttpFailure::Timeout), 0)
    );
    assert_eq!(
        ev[0].error_type().map(|t| t.to_string()).as_deref(),
        Some("timeout")
    );
    // Closed mid-request, and mid-response-body.
    io(
        &mut t,
        SEND,
        2,
        3,
        b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
    );
    io(
        &mut t,
        RECV,
        4,
        5,
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
    );
    let mut out = Vec::new();
    t.record(Record::Close(header(KEY, OPENED, 9, 9, 0)), &mut out);
    let ev = https(out);
    let got: Vec<_> = ev
        .iter()
        .map(|e| (e.path.as_str(), e.status, e.failure))
        .collect();
    assert_eq!(
        got,
        [
            ("/a", 200, Some(HttpFailure::ConnectionClosed)),
            ("/b", 0, Some(HttpFailure::ConnectionClosed))
        ]
    );
    assert_eq!(t.connections(), 0);
}

#[test]
fn a_body_until_close_ends_at_the_close_without_failure() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, false);
    io(&mut t, SEND, 1, 2, b"GET /stream HTTP/1.0\r\n\r\n");
    io(&mut t, RECV, 3, 4, b"HTTP/1.0 200 OK\r\n\r\npart");
    io(&mut t, RECV, 5, 6, b"more");
    let mut out = Vec::new();
    t.record(Record::Close(header(KEY, OPENED, 8, 8, 0)), &mut out);
    let ev = https(out);
    assert_eq!(
        (ev[0].status, ev[0].failure, ev[0].end_time_unix_nano),
        (200, None, 8)
    );
    assert_eq!(ev[0].version.as_str(), "1.0");
}

#[test]
fn a_reused_descriptor_starts_clean_and_stale_records_are_dropped() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    io(&mut t, RECV, 1, 2, b"GET /old HTTP/1.1\r\n\r\n");
    // The close was lost: the descriptor is opened again.
    let ev = https(open(&mut t, KEY, OPENED + 100, true));
    assert_eq!(
        (ev.len(), ev[0].path.as_str(), ev[0].failure),
        (1, "/old", Some(HttpFailure::ConnectionClosed))
    );
    // A late record of the old connection changes nothing.
    let late = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    assert!(io_sized(&mut t, KEY, OPENED, SEND, 3, 4, late, late.len() as u64).is_empty());
    io_sized(
        &mut t,
        KEY,
        OPENED + 100,
        RECV,
        5,
        6,
        b"GET /new HTTP/1.1\r\n\r\n",
        22,
    );
    let ev = io_sized(
        &mut t,
        KEY,
        OPENED + 100,
        SEND,
        7,
        8,
        late,
        late.len() as u64,
    );
    assert_eq!((ev.len(), ev[0].path.as_str()), (1, "/new"));
}

#[test]
fn garbage_is_skipped_and_the_stream_resyncs_at_the_next_request() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    assert!(io(&mut t, RECV, 1, 2, b"GET /\x00\x01 HTTP/9\r\n\r\n").is_empty());
    assert!(io(&mut t, RECV, 3, 4, &[0xff; 300]).is_empty());
    io(&mut t, RECV, 5, 6, b"GET /ok HTTP/1.1\r\n\r\n");
    let ev = io(
        &mut t,
        SEND,
        7,
        8,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!((ev.len(), ev[0].path.as_str()), (1, "/ok"));
}

#[test]
fn traceparent_joins_the_callers_trace() {
    let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let request = format!("GET /t HTTP/1.1\r\ntraceparent: {tp}\r\n\r\n");
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    // A server span hangs under the caller's span.
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    io(&mut t, RECV, 1, 2, request.as_bytes());
    let ev = io(&mut t, SEND, 3, 4, response);
    assert_eq!(ev[0].sampled, Some(true), "the caller's flag");
    assert_eq!(
        ev[0].trace_id.to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(
        ev[0].parent_span_id.unwrap().to_string(),
        "b7ad6b7169203331"
    );
    assert_ne!(ev[0].span_id.to_string(), "b7ad6b7169203331");
    // A client span is the span the header names.
    let mut t = tracker();
    open(&mut t, KEY, OPENED, false);
    io(&mut t, SEND, 1, 2, request.as_bytes());
    let ev = io(&mut t, RECV, 3, 4, response);
    assert_eq!(
        (ev[0].trace_id.to_string(), ev[0].span_id.to_string()),
        (
            "0af7651916cd43dd8448eb211c80319c".into(),
            "b7ad6b7169203331".into()
        )
    );
    assert!(ev[0].parent_span_id.is_none());
}

/// Requests for `paths`, one at a time, from a client connection to a server connection
/// on this node (the client's local address is the server's peer); request `i`'s write
/// by the client and read by the server are seen as `seen(i)` says. Returns the spans as
/// they ended.
fn same_node(paths: &[&str], seen: impl Fn(usize) -> (bool, bool)) -> Vec<HttpEvent> {
    let mut t = tracker();
    let client = ConnKey { tgid: 1, fd: 3 };
    let server = ConnKey { tgid: 2, fd: 9 };
    open(&mut t, client, 10, false);
    open(&mut t, server, 11, true);
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let mut spans = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let request = format!("GET {path} HTTP/1.1\r\n\r\n");
        let (bytes, n) = (request.as_bytes(), request.len() as u64);
        let at = 100 * (i as u64 + 1);
        let (client_writes, server_reads) = seen(i);
        if client_writes {
            io_sized(&mut t, client, 10, SEND, at, at + 1, bytes, n);
        }
        if server_reads {
            io_sized(&mut t, server, 11, RECV, at + 1, at + 2, bytes, n);
        }
        spans.extend(io_sized(
            &mut t,
            server,
            11,
            SEND,
            at + 3,
            at + 4,
            response,
            38,
        ));
        spans.extend(io_sized(
            &mut t,
            client,
            10,
            RECV,
            at + 4,
            at + 5,
            response,
            38,
        ));
    }
    // Server spans still waiting for a client request go out unjoined.
    let mut out = Vec::new();
    t.sweep(u64::MAX / 2, &mut out);
    spans.extend(https(out));
    spans
}

#[test]
fn a_server_span_joins_the_client_span_of_the_same_request_on_this_node() {
    let spans = same_node(&["/a", "/b"], |_| (true, true));
    let [s1, c1, s2, c2] = &spans[..] else {
        panic!("four spans: {spans:?}");
    };
    for (s, c) in [(s1, c1), (s2, c2)] {
        assert_eq!((s.side, c.side), (HttpSide::Server, HttpSide::Client));
        assert_eq!(s.path, c.path);
        assert_eq!(s.trace_id, c.trace_id);
        assert_eq!(s.parent_span_id, Some(c.span_id));
    }
    assert_ne!(s1.trace_id, s2.trace_id);
}

/// The server spans and the client spans of `spans`, each in order.
fn sides(spans: &[HttpEvent]) -> (Vec<&HttpEvent>, Vec<&HttpEvent>) {
    spans.iter().partition(|e| e.side == HttpSide::Server)
}

#[test]
fn a_server_that_missed_requests_still_joins_the_right_client_request() {
    // The server side misses the first exchange (found open while inside `read`).
    let spans = same_node(&["/a", "/b", "/b", "/c"], |i| (true, i > 0));
    let (servers, clients) = sides(&spans);
    assert_eq!((servers.len(), clients.len()), (3, 4));
    for (s, c) in servers.iter().zip(&clients[1..]) {
        assert_eq!(s.path, c.path);
        assert_eq!(s.parent_span_id, Some(c.span_id), "{}", s.path);
    }
}

#[test]
fn a_client_that_missed_a_request_leaves_that_server_span_alone() {
    // The client's write of /a is not seen: the server's /a joins nothing, and every
    // later server span joins its own client request.
    let spans = same_node(&["/a", "/b", "/b", "/c"], |i| (i > 0, true));
    let (servers, clients) = sides(&spans);
    assert_eq!((servers.len(), clients.len()), (4, 3));
    // /a waited for its client request, then went out unjoined.
    assert_eq!(
        (servers[3].path.as_str(), servers[3].parent_span_id),
        ("/a", None)
    );
    for (s, c) in servers[..3].iter().zip(&clients) {
        assert_eq!(s.path, c.path);
        assert_eq!(s.parent_span_id, Some(c.span_id), "{}", s.path);
    }
}

#[test]
fn lost_records_cost_their_exchange_and_no_later_pairing() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, false);
    let request = |path: &str| format!("GET {path} HTTP/1.1\r\n\r\n");
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let gone = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    let record = |t: &mut Tracker, send: bool, at: u64, offset: u64, bytes: &[u8]| {
        let mut out = Vec::new();
        let mut h = header(KEY, OPENED, at, at + 1, bytes.len() as u64);
        h.offset = offset;
        t.record(
            Record::Data {
                header: h,
                send,
                bytes,
            },
            &mut out,
        );
        https(out)
    };
    let (a, b, c) = (request("/a"), request("/b"), request("/c"));
    let mut spans = Vec::new();
    // /a is sent; its response (503) is lost in the ring; /b is sent and answered.
    spans.extend(record(&mut t, SEND, 10, 0, a.as_bytes()));
    spans.extend(record(&mut t, SEND, 30, a.len() as u64, b.as_bytes()));
    let answered = gone.len() as u64;
    spans.extend(record(&mut t, RECV, 40, answered, ok));
    // Then a request record is lost: /c pairs with its own response still.
    let sent = (a.len() + b.len() + 99) as u64;
    spans.extend(record(&mut t, SEND, 50, sent, c.as_bytes()));
    spans.extend(record(&mut t, RECV, 60, answered + ok.len() as u64, ok));
    let got: Vec<_> = spans.iter().map(|e| (e.path.as_str(), e.status)).collect();
    assert_eq!(got, [("/b", 200), ("/c", 200)]);
    // An offset at the end of the range (bad kernel data) is a gap, not an overflow.
    record(&mut t, SEND, 70, u64::MAX, c.as_bytes());
    record(&mut t, SEND, 80, u64::MAX, c.as_bytes());
}

#[test]
fn connections_beyond_the_limit_are_not_followed() {
    let mut t = tracker();
    for fd in 0..20 {
        open(&mut t, ConnKey { tgid: 1, fd }, 5, true);
    }
    assert_eq!(t.connections(), 16);
}

#[test]
fn idle_connections_are_forgotten() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    let mut out = Vec::new();
    t.sweep(OPENED + 59_000_000_000, &mut out);
    assert_eq!(t.connections(), 1);
    t.sweep(OPENED + 60_000_000_000, &mut out);
    assert_eq!((t.connections(), out.len()), (0, 0));
}

#[test]
fn a_response_under_way_is_never_cut_by_the_request_timeout() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, false);
    io(
        &mut t,
        SEND,
        1_000,
        1_001,
        b"GET /download HTTP/1.1\r\n\r\n",
    );
    io(
        &mut t,
        RECV,
        2_000,
        2_001,
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    );
    let mut out = Vec::new();
    t.sweep(60_000_000_000, &mut out);
    assert!(out.is_empty(), "the body is still coming: {out:?}");
    let ev = io(&mut t, RECV, 60_000_000_001, 60_000_000_002, b"0123456789");
    assert_eq!((ev.len(), ev[0].failure, ev[0].status), (1, None, 200));
}

#[test]
fn switching_protocols_ends_the_exchange_and_the_tunnel_is_not_parsed() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    io(
        &mut t,
        RECV,
        1,
        2,
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
    );
    let ev = io(
        &mut t,
        SEND,
        3,
        4,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
    );
    assert_eq!(
        (ev.len(), ev[0].status, ev[0].end_time_unix_nano),
        (1, 101, 4)
    );
    // WebSocket frames both ways: nothing parsed, nothing pending.
    assert!(io(&mut t, RECV, 5, 6, &[0x81, 0x85, 1, 2, 3, 4, 5]).is_empty());
    assert!(io(&mut t, SEND, 7, 8, b"GET /not-a-request HTTP/1.1\r\n\r\n").is_empty());
    let mut out = Vec::new();
    t.sweep(u64::MAX / 2, &mut out);
    assert!(out.is_empty());
}

#[test]
fn not_found_paths_have_no_route() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    io(&mut t, RECV, 1, 2, b"GET /wp-login.php HTTP/1.1\r\n\r\n");
    let ev = io(
        &mut t,
        SEND,
        3,
        4,
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(
        (ev[0].route.as_str(), ev[0].path.as_str()),
        ("", "/wp-login.php")
    );
}

#[test]
fn an_idle_connection_whose_descriptor_is_open_is_kept() {
    let limits = Limits {
        request_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(60),
        max_connections: 16,
    };
    let mut t = Tracker::new(
        "l7",
        limits,
        Routes::new(&[]).0,
        ClockOffset::fixed(0),
        "/proc".into(),
    );
    // This test process's stdin: an open descriptor.
    let live = ConnKey {
        tgid: std::process::id(),
        fd: 0,
    };
    open(&mut t, live, OPENED, true);
    let mut out = Vec::new();
    t.sweep(OPENED + 61_000_000_000, &mut out);
    assert_eq!(t.connections(), 1);
}

#[test]
fn stray_line_ends_between_messages_are_skipped() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, true);
    io(
        &mut t,
        RECV,
        1,
        2,
        b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nok\r\n",
    );
    let ev = io(
        &mut t,
        SEND,
        3,
        4,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(ev.len(), 1);
    io(&mut t, RECV, 5, 6, b"\r\nGET /b HTTP/1.1\r\n\r\n");
    let ev = io(
        &mut t,
        SEND,
        7,
        8,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!((ev.len(), ev[0].path.as_str()), (1, "/b"));
}

#[test]
fn a_server_span_waits_for_a_client_request_record_that_comes_after_the_answer() {
    let mut t = tracker();
    let client = ConnKey { tgid: 1, fd: 3 };
    let server = ConnKey { tgid: 2, fd: 9 };
    open(&mut t, client, 10, false);
    open(&mut t, server, 11, true);
    let request = b"GET /late HTTP/1.1\r\n\r\n";
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let n = request.len() as u64;
    // The client's write began at 100; its record reaches the ring after the server read
    // the request (101) and answered it (103).
    assert!(io_sized(&mut t, server, 11, RECV, 101, 101, request, n).is_empty());
    let held = io_sized(&mut t, server, 11, SEND, 103, 103, response, 38);
    assert!(held.is_empty(), "held for its client request: {held:?}");
    let joined = io_sized(&mut t, client, 10, SEND, 100, 100, request, n);
    let client_span = io_sized(&mut t, client, 10, RECV, 104, 104, response, 38);
    let ([s], [c]) = (&joined[..], &client_span[..]) else {
        panic!("one server span, then one client span: {joined:?} {client_span:?}");
    };
    assert_eq!((s.side, c.side), (HttpSide::Server, HttpSide::Client));
    assert_eq!(s.trace_id, c.trace_id);
    assert_eq!(s.parent_span_id, Some(c.span_id));

    // A client request that started after the server's did not make it (the same
    // request again, whose first write was missed): the held span
    // goes out unjoined once its wait is over, at the next record.
    let other = b"GET /other HTTP/1.1\r\n\r\n";
    let m = other.len() as u64;
    io_sized(&mut t, server, 11, RECV, 201, 201, other, m);
    assert!(io_sized(&mut t, server, 11, SEND, 203, 203, response, 38).is_empty());
    assert!(io_sized(&mut t, client, 10, SEND, 202, 202, other, m).is_empty());
    let late = 203 + 100_000_000;
    let out = io_sized(&mut t, client, 10, RECV, late, late, response, 38);
    let unjoined: Vec<_> = out.iter().filter(|e| e.side == HttpSide::Server).collect();
    assert_eq!(unjoined.len(), 1, "{out:?}");
    assert_eq!(
        (unjoined[0].path.as_str(), unjoined[0].parent_span_id),
        ("/other", None)
    );
}

#[test]
fn a_response_read_before_its_request_record_came_answers_that_request() {
    let mut t = tracker();
    open(&mut t, KEY, OPENED, false);
    let request = b"GET /early HTTP/1.1\r\n\r\n";
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let gone = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    let n = request.len() as u64;
    // The reader thread read the answer at 105; the writer's record (its write began at
    // 100) comes after.
    assert!(io_sized(&mut t, KEY, OPENED, RECV, 105, 105, ok, 38).is_empty());
    let spans = io_sized(&mut t, KEY, OPENED, SEND, 100, 100, request, n);
    let [e] = &spans[..] else {
        panic!("one span: {spans:?}");
    };
    assert_eq!((e.path.as_str(), e.status), ("/early", 200));
    assert_eq!(e.end_time_unix_nano - e.start_time_unix_nano, 5);

    // A response read before a request that started later answered something never
    // seen: that request waits for its own.
    let at = 200;
    assert!(io_sized(&mut t, KEY, OPENED, RECV, at, at, gone, gone.len() as u64).is_empty());
    assert!(io_sized(&mut t, KEY, OPENED, SEND, at + 10, at + 10, request, n).is_empty());
    let spans = io_sized(&mut t, KEY, OPENED, RECV, at + 20, at + 20, ok, 38);
    let [e] = &spans[..] else {
        panic!("one span: {spans:?}");
    };
    assert_eq!(
        (e.status, e.end_time_unix_nano - e.start_time_unix_nano),
        (200, 10)
    );
}

#[test]
fn the_port_a_host_header_names_is_kept_apart_from_its_name() {
    for (host, port) in [
        ("api:8443", Some(8443)),
        ("api", None),
        ("[fd00::1]:8080", Some(8080)),
        ("[fd00::1]", None),
        ("fd00::1", None),
        ("api:", None),
        ("api:99999", None),
    ] {
        assert_eq!(split_host(host).1, port, "{host}");
    }
}
