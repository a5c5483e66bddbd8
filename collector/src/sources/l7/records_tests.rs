use kotel_common::l7::{classify, IGNORED_OTHER, IGNORED_TLS, PROTOCOL_HTTP1};

use super::*;

fn bytes_of<T: Copy>(v: &T) -> Vec<u8> {
    // SAFETY: T is plain data without padding bytes read as uninitialised (all fields set).
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
        .to_vec()
}

fn header(kind: u32, captured: u32, flags: u32) -> L7Header {
    L7Header {
        kind,
        tgid: 7,
        fd: 3,
        flags,
        opened_ns: 10,
        start_ns: 20,
        end_ns: 30,
        size: 900,
        offset: 4096,
        captured,
        _pad: 0,
    }
}

#[test]
fn open_records_give_addresses_with_v4_mapped_shown_as_v4() {
    let mut info = ConnInfo {
        cgroup_id: 99,
        role: ROLE_SERVER,
        family: AF_INET6,
        local_port: 8080,
        remote_port: 51000,
        ..ConnInfo::default()
    };
    info.local_addr = "::ffff:10.1.2.3".parse::<Ipv6Addr>().unwrap().octets();
    info.remote_addr = "fd00::5".parse::<Ipv6Addr>().unwrap().octets();
    info.comm[..5].copy_from_slice(b"nginx");
    let bytes = [bytes_of(&header(RECORD_OPEN, 0, 0)), bytes_of(&info)].concat();
    let Record::Open(h, o) = Record::parse(&bytes).unwrap() else {
        panic!("an open record");
    };
    assert_eq!((h.key, h.opened_ns), (ConnKey { tgid: 7, fd: 3 }, 10));
    assert!(o.server);
    assert_eq!((o.cgroup_id, &*o.comm), (99, "nginx"));
    assert_eq!(o.local, "10.1.2.3:8080".parse().unwrap());
    assert_eq!(o.peer, "[fd00::5]:51000".parse().unwrap());
    // Cut short, or with an unknown family: refused with a reason.
    assert_eq!(
        Record::parse(&bytes[..100]).unwrap_err().reason(),
        "truncated"
    );
    info.family = 1;
    let bytes = [bytes_of(&header(RECORD_OPEN, 0, 0)), bytes_of(&info)].concat();
    assert_eq!(Record::parse(&bytes).unwrap_err().reason(), "open");
}

#[test]
fn data_records_carry_exactly_their_captured_bytes() {
    let payload = b"GET / HTTP/1.1\r\n\r\n";
    let bytes = [
        bytes_of(&header(RECORD_DATA, 18, DATA_SEND)),
        payload.to_vec(),
    ]
    .concat();
    let Record::Data {
        header,
        send,
        bytes: got,
    } = Record::parse(&bytes).unwrap()
    else {
        panic!("a data record");
    };
    assert!(send);
    assert_eq!(
        (got, header.size, header.offset),
        (payload.as_slice(), 900, 4096)
    );
    // Captured bytes beyond the record, or beyond the ceiling, are refused.
    let short = [
        bytes_of(&self::header(RECORD_DATA, 19, 0)),
        payload.to_vec(),
    ]
    .concat();
    assert_eq!(Record::parse(&short).unwrap_err().reason(), "truncated");
    let huge = self::header(RECORD_DATA, CAPTURE_MAX as u32 + 1, 0);
    let huge = [bytes_of(&huge), vec![0; CAPTURE_MAX + 1]].concat();
    assert_eq!(Record::parse(&huge).unwrap_err().reason(), "truncated");
    assert_eq!(
        Record::parse(&bytes_of(&self::header(9, 0, 0)))
            .unwrap_err()
            .reason(),
        "kind"
    );
    assert_eq!(Record::parse(&[0; 10]).unwrap_err().reason(), "truncated");
}

/// The kernel's classification, run here as the kernel runs it.
#[test]
fn the_first_bytes_decide_the_protocol() {
    let head = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
        (u64::from_le_bytes(w), b.len() as u64)
    };
    for http in [
        &b"GET / HTTP/1.1"[..],
        b"POST /x",
        b"HEAD /",
        b"DELETE /",
        b"OPTIONS *",
        b"PATCH /",
        b"PUT /a",
    ] {
        let (h, n) = head(http);
        assert_eq!(
            classify(h, n),
            (PROTOCOL_HTTP1, 0),
            "{:?}",
            String::from_utf8_lossy(http)
        );
    }
    let (h, n) = head(&[0x16, 0x03, 0x01, 0x02, 0x00]);
    assert_eq!(classify(h, n), (0, IGNORED_TLS));
    for other in [
        &b"PRI * HTTP/2.0"[..],
        b"\x00\x00\x00\x08",
        b"GE",
        b"get / HTTP/1.1",
        b"SSH-2.0",
    ] {
        let (h, n) = head(other);
        assert_eq!(classify(h, n), (0, IGNORED_OTHER), "{other:?}");
    }
}
