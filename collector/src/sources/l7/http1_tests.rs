use super::*;

fn request(text: &str) -> RequestHead {
    match request_head(text.as_bytes()) {
        Parsed::Complete(head, length) => {
            assert_eq!(length, text.find("\r\n\r\n").unwrap() + 4);
            head
        }
        other => panic!("{text:?}: {other:?}"),
    }
}

fn response(text: &str, method: &str) -> ResponseHead {
    match response_head(text.as_bytes(), method) {
        Parsed::Complete(head, _) => head,
        other => panic!("{text:?}: {other:?}"),
    }
}

#[test]
fn a_keep_alive_get_with_a_traceparent() {
    let head = request(
        "GET /api/users/42?full=1 HTTP/1.1\r\nHost: shop.example:8080\r\n\
         traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
    );
    assert_eq!(head.method, "GET");
    assert_eq!(head.target, "/api/users/42?full=1");
    assert_eq!(head.path(), "/api/users/42");
    assert_eq!(head.version, HttpVersion::Http11);
    assert_eq!(head.host.as_deref(), Some("shop.example:8080"));
    assert_eq!(head.framing, Framing::None);
    assert!(!head.close && !head.expect_continue);
    let parent = head.traceparent.unwrap();
    assert_eq!(parent.trace_id.0[..4], [0x4b, 0xf9, 0x2f, 0x35]);
    assert_eq!(
        parent.parent_id.0,
        [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
    );
    assert_eq!(parent.flags, 1);
}

#[test]
fn bodies_are_framed_by_length_or_chunks() {
    let post =
        request("POST /orders HTTP/1.1\r\nContent-Length: 64\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(post.framing, Framing::Length(64));
    assert!(post.expect_continue);
    let chunked = request("PUT /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(chunked.framing, Framing::Chunked);
    assert_eq!(
        request_head(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        Parsed::Invalid(Invalid::ContentLength)
    );
    assert_eq!(
        request_head(b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
        Parsed::Invalid(Invalid::ContentLength)
    );
}

#[test]
fn connection_persistence_follows_the_version() {
    assert!(request("GET / HTTP/1.0\r\n\r\n").close);
    assert!(!request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").close);
    assert!(request("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").close);
    let until_close = response("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", "GET");
    assert_eq!(until_close.framing, Framing::UntilClose);
    assert!(until_close.close);
}

#[test]
fn responses_without_bodies() {
    let head = response("HTTP/1.1 200 OK\r\nContent-Length: 120\r\n\r\n", "HEAD");
    assert_eq!((head.status, head.framing), (200, Framing::None));
    for status in [
        "204 No Content",
        "304 Not Modified",
        "100 Continue",
        "103 Early Hints",
    ] {
        let head = response(&format!("HTTP/1.1 {status}\r\n\r\n"), "GET");
        assert_eq!(head.framing, Framing::None, "{status}");
    }
    assert!(response("HTTP/1.1 100 Continue\r\n\r\n", "POST").is_interim());
    assert!(!response("HTTP/1.1 101 Switching Protocols\r\n\r\n", "GET").is_interim());
    let served = response(
        "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
        "GET",
    );
    assert_eq!(
        (served.version, served.status, served.close),
        (HttpVersion::Http10, 503, true)
    );
}

#[test]
fn a_head_split_over_reads_is_partial_until_its_empty_line() {
    let whole = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nNEXT";
    for cut in 0..whole.len() - 4 - 1 {
        assert_eq!(request_head(&whole[..cut]), Parsed::Partial, "cut at {cut}");
    }
    assert!(matches!(request_head(whole), Parsed::Complete(_, 28)));
    assert!(matches!(
        request_head(b"GET / HTTP/1.1\nHost: h\n\n"),
        Parsed::Complete(_, 24)
    ));
}

#[test]
fn garbage_is_refused_with_a_reason() {
    let cases: [(&[u8], Invalid); 7] = [
        (b"BREW /pot HTTP/1.1\r\n\r\n", Invalid::StartLine),
        (b"GET /pot HTTP/2.0\r\n\r\n", Invalid::StartLine),
        (b"GET  HTTP/1.1\r\n\r\n", Invalid::StartLine),
        (b"GET /a b HTTP/1.1\r\n\r\n", Invalid::StartLine),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", Invalid::Header),
        (b"GET / HTTP/1.1\r\nbad name: x\r\n\r\n", Invalid::Header),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
            Invalid::StartLine,
        ),
    ];
    for (bytes, why) in cases {
        assert_eq!(request_head(bytes), Parsed::Invalid(why), "{bytes:?}");
    }
    for status in [
        "HTTP/1.1 20 OK",
        "HTTP/1.1 2000 OK",
        "HTTP/1.1 099 x",
        "HTTP/1.1 200OK",
    ] {
        let text = format!("{status}\r\n\r\n");
        assert_eq!(
            response_head(text.as_bytes(), "GET"),
            Parsed::Invalid(Invalid::StartLine)
        );
    }
    let endless = vec![b'a'; MAX_HEAD_BYTES + 1];
    assert_eq!(request_head(&endless), Parsed::Invalid(Invalid::TooLong));
}

#[test]
fn long_targets_are_cut_and_long_hosts_dropped() {
    let target = format!("/{}", "x".repeat(MAX_TARGET_BYTES + 10));
    let host = "h".repeat(MAX_HOST_BYTES + 1);
    let head = request(&format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n"));
    assert_eq!(head.target.len(), MAX_TARGET_BYTES);
    assert!(head.target_cut);
    assert_eq!(head.host, None);
}

#[test]
fn absolute_targets_give_their_path() {
    let head = request("GET http://proxy.example/a/b?q=1 HTTP/1.1\r\n\r\n");
    assert_eq!(head.path(), "/a/b");
    assert_eq!(request("OPTIONS * HTTP/1.1\r\n\r\n").path(), "*");
    assert_eq!(
        request("GET http://bare.example HTTP/1.1\r\n\r\n").path(),
        "/"
    );
}

#[test]
fn content_decides_not_ports() {
    assert!(looks_like_request(b"GET / HTTP/1.1"));
    assert!(looks_like_request(b"PATCH /"));
    assert!(!looks_like_request(b"GETX"));
    assert!(!looks_like_request(b"GET"));
    assert!(!looks_like_request(b"\x16\x03\x01"));
    assert!(looks_like_response(b"HTTP/1.1 200"));
    assert!(!looks_like_response(b"HTTP/2 200"));
    assert!(!looks_like_response(b"HTTP/1."));
}

#[test]
fn traceparents_must_be_version_00_with_nonzero_ids() {
    let ok = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert!(traceparent(ok).is_some());
    let zero_trace = b"00-00000000000000000000000000000000-00f067aa0ba902b7-01";
    let zero_parent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01";
    let upper = b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
    let short = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0";
    let other_version = b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for bad in [&zero_trace[..], zero_parent, upper, short, other_version] {
        assert_eq!(traceparent(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn a_chunked_body_ends_across_reads_and_leaves_the_next_message() {
    let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\nHTTP/1.1";
    let end = body.len() - b"HTTP/1.1".len();
    for split in 1..body.len() {
        let mut chunked = ChunkedBody::default();
        let (first, done) = chunked.feed(&body[..split]).unwrap();
        assert_eq!(first, split.min(end), "split at {split}");
        assert_eq!(done, split >= end, "split at {split}");
        let (second, done) = if done {
            (0, true)
        } else {
            chunked.feed(&body[split..]).unwrap()
        };
        assert!(done, "split at {split}");
        assert_eq!(first + second, end, "split at {split}");
        assert_eq!(chunked.data_bytes, 23);
    }
    assert_eq!(ChunkedBody::default().feed(b"zz\r\n"), Err(Invalid::Chunk));
    assert_eq!(
        ChunkedBody::default().feed(b"fffffffffffffffff\r\n"),
        Err(Invalid::Chunk)
    );
}

/// Bytes drawn from what HTTP heads are made of, mixed with anything: no input panics,
/// and a head is never longer than its input.
#[test]
fn arbitrary_bytes_never_panic() {
    const ALPHABET: &[u8] = b"GETPOSHADPUTCNL /HTP1.0:\r\n\r\n;-0123456789abcdefxyz\t\x00\xff";
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let len = (next() % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 5 == 0 {
                    r as u8
                } else {
                    ALPHABET[(r >> 8) as usize % ALPHABET.len()]
                }
            })
            .collect();
        let mut input = if round % 2 == 0 {
            b"GET /a HTTP/1.1\r\n".to_vec()
        } else {
            b"HTTP/1.1 200 OK\r\n".to_vec()
        };
        input.extend_from_slice(&bytes);
        for buf in [&bytes[..], &input[..]] {
            if let Parsed::Complete(_, length) = request_head(buf) {
                assert!(length <= buf.len());
            }
            if let Parsed::Complete(_, length) = response_head(buf, "GET") {
                assert!(length <= buf.len());
            }
            let _ = (
                looks_like_request(buf),
                looks_like_response(buf),
                traceparent(buf),
            );
            if let Ok((used, _)) = ChunkedBody::default().feed(buf) {
                assert!(used <= buf.len());
            }
        }
    }
}
