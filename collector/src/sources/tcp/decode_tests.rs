//! Decode tests: records built the way the kernel writes them, then decoded.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use kotel_common::tcp::{
    state, TcpEvent, TcpEventKind as Wire, AF_INET, AF_INET6, DIRECTION_INBOUND,
    DIRECTION_OUTBOUND, TCP_EVENT_SIZE,
};

use super::{decode, ClockOffset, DecodeError};
use crate::event::{Direction, TcpConnEvent, TcpConnStats, TcpEventKind};

/// The record's bytes exactly as the kernel puts them into the ring buffer.
pub(crate) fn encode(ev: &TcpEvent) -> Vec<u8> {
    // SAFETY: TcpEvent is #[repr(C)] plain old data without padding holes.
    unsafe { std::slice::from_raw_parts((ev as *const TcpEvent).cast::<u8>(), TCP_EVENT_SIZE) }
        .to_vec()
}

fn comm(name: &[u8]) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[..name.len()].copy_from_slice(name);
    c
}

pub(crate) fn v4_connect() -> TcpEvent {
    let mut local = [0u8; 16];
    local[..4].copy_from_slice(&[10, 0, 0, 1]);
    let mut remote = [0u8; 16];
    remote[..4].copy_from_slice(&[93, 184, 216, 34]);
    TcpEvent {
        timestamp_ns: 1_000,
        connect_latency_ns: 250_000,
        duration_ns: 0,
        cgroup_id: 4242,
        sock_id: 0xffff_8880_1234_5678,
        kind: Wire::Connect as u32,
        direction: DIRECTION_OUTBOUND,
        pid: 77,
        netns: 4_026_531_840,
        old_state: state::SYN_SENT,
        new_state: state::ESTABLISHED,
        family: AF_INET,
        local_port: 40_000,
        remote_port: 443,
        _pad: 0,
        local_addr: local,
        remote_addr: remote,
        comm: comm(b"curl"),
        bytes_sent: 0,
        bytes_received: 0,
        srtt_us: 0,
        min_rtt_us: 0,
        retransmits: 0,
        resets_sent: 0,
        resets_received: 0,
        _pad2: 0,
    }
}

const CLOCK: ClockOffset = ClockOffset::fixed(1_700_000_000_000_000_000);

#[test]
fn v4_connect_round_trips() {
    let ev = decode(&encode(&v4_connect()), &CLOCK).unwrap();
    assert_eq!(ev.kind, TcpEventKind::Connect);
    assert_eq!(ev.time_unix_nano, 1_700_000_000_000_001_000);
    assert_eq!(ev.direction, Direction::Outbound);
    assert_eq!(ev.local_addr, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(ev.remote_addr, IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34)));
    assert_eq!((ev.local_port, ev.remote_port), (40_000, 443));
    assert_eq!(ev.connect_latency_ns, Some(250_000));
    assert_eq!((ev.duration_ns, ev.failed_state.as_deref()), (None, None));
    assert_eq!((ev.pid, &*ev.comm, ev.cgroup_id), (77, "curl", 4242));
    assert_eq!(
        (ev.netns, ev.sock_id),
        (4_026_531_840, 0xffff_8880_1234_5678)
    );
}

#[test]
fn v6_close_round_trips_and_v4_mapped_becomes_v4() {
    let mut raw = v4_connect();
    raw.kind = Wire::Close as u32;
    raw.direction = DIRECTION_INBOUND;
    raw.family = AF_INET6;
    raw.duration_ns = 5_000_000;
    raw.connect_latency_ns = 0;
    raw.local_addr = Ipv6Addr::LOCALHOST.octets();
    raw.remote_addr = "2001:db8::7".parse::<Ipv6Addr>().unwrap().octets();
    let ev = decode(&encode(&raw), &CLOCK).unwrap();
    assert_eq!(ev.kind, TcpEventKind::Close);
    assert_eq!(ev.direction, Direction::Inbound);
    assert_eq!(ev.local_addr, IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(ev.remote_addr, "2001:db8::7".parse::<IpAddr>().unwrap());
    assert_eq!(
        (ev.duration_ns, ev.connect_latency_ns),
        (Some(5_000_000), None)
    );

    raw.remote_addr = "::ffff:192.0.2.1".parse::<Ipv6Addr>().unwrap().octets();
    let ev = decode(&encode(&raw), &CLOCK).unwrap();
    assert_eq!(ev.remote_addr, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
}

#[test]
fn close_and_failed_events_carry_the_connection_stats_and_others_none() {
    let mut raw = v4_connect();
    (raw.bytes_sent, raw.bytes_received) = (1_000_001, 4_096);
    (raw.srtt_us, raw.min_rtt_us) = (1_250, 980);
    (raw.retransmits, raw.resets_sent, raw.resets_received) = (3, 1, 2);
    assert_eq!(
        decode(&encode(&raw), &CLOCK).unwrap().stats,
        None,
        "connect"
    );
    let want = TcpConnStats {
        bytes_sent: 1_000_001,
        bytes_received: 4_096,
        srtt_us: 1_250,
        min_rtt_us: 980,
        retransmits: 3,
        resets_sent: 1,
        resets_received: 2,
    };
    for kind in [Wire::Close, Wire::ConnectFailed] {
        raw.kind = kind as u32;
        assert_eq!(
            decode(&encode(&raw), &CLOCK).unwrap().stats.as_ref(),
            Some(&want)
        );
    }
}

#[test]
fn events_round_trip_through_json_and_old_recordings_still_parse() {
    let mut raw = v4_connect();
    raw.kind = Wire::Close as u32;
    raw.bytes_sent = 77;
    let ev = decode(&encode(&raw), &CLOCK).unwrap();
    let json = serde_json::to_string(&ev).unwrap();
    assert!(json.contains("\"bytes_sent\":77"), "{json}");
    assert_eq!(serde_json::from_str::<TcpConnEvent>(&json).unwrap(), ev);
    // A close event recorded before kotel carried stats, and one with partial stats.
    let old = json.replace(
        &format!(",\"stats\":{}", serde_json::to_string(&ev.stats).unwrap()),
        "",
    );
    assert!(!old.contains("stats"), "{old}");
    assert_eq!(
        serde_json::from_str::<TcpConnEvent>(&old).unwrap().stats,
        None
    );
    let partial = old.replace("\"sock_id\"", "\"stats\":{\"retransmits\":2},\"sock_id\"");
    let stats = serde_json::from_str::<TcpConnEvent>(&partial)
        .unwrap()
        .stats
        .unwrap();
    assert_eq!((stats.retransmits, stats.bytes_sent), (2, 0));
}

#[test]
fn failed_connect_names_the_state_it_died_in() {
    let mut raw = v4_connect();
    raw.kind = Wire::ConnectFailed as u32;
    raw.connect_latency_ns = 0;
    raw.new_state = state::CLOSE;
    let ev = decode(&encode(&raw), &CLOCK).unwrap();
    assert_eq!(ev.failed_state.as_deref(), Some("syn_sent"));
    raw.old_state = state::SYN_RECV;
    assert_eq!(
        decode(&encode(&raw), &CLOCK)
            .unwrap()
            .failed_state
            .as_deref(),
        Some("syn_recv")
    );
    raw.old_state = 99;
    assert_eq!(
        decode(&encode(&raw), &CLOCK)
            .unwrap()
            .failed_state
            .as_deref(),
        Some("state_99")
    );
}

#[test]
fn comm_without_nul_and_unknown_direction() {
    let mut raw = v4_connect();
    raw.comm = *b"sixteen-chars-xy";
    raw.direction = 0;
    let ev = decode(&encode(&raw), &CLOCK).unwrap();
    assert_eq!(&*ev.comm, "sixteen-chars-xy");
    assert_eq!(ev.direction, Direction::Unknown);
    raw.comm = comm(&[b'a', 0xff, b'b']);
    assert_eq!(&*decode(&encode(&raw), &CLOCK).unwrap().comm, "a\u{fffd}b");
}

#[test]
fn truncated_and_oversized_records_are_errors() {
    let bytes = encode(&v4_connect());
    for len in [0, 1, 8, TCP_EVENT_SIZE - 1] {
        assert_eq!(
            decode(&bytes[..len], &CLOCK),
            Err(DecodeError::Truncated(len))
        );
    }
    let mut long = bytes.clone();
    long.extend_from_slice(&[0; 8]);
    let err = decode(&long, &CLOCK).unwrap_err();
    assert_eq!(err, DecodeError::Oversized(TCP_EVENT_SIZE + 8));
    assert_eq!(err.reason(), "oversized");
}

#[test]
fn unknown_kind_and_family_are_errors() {
    let mut raw = v4_connect();
    raw.kind = 9;
    let err = decode(&encode(&raw), &CLOCK).unwrap_err();
    assert_eq!(
        (err.clone(), err.reason()),
        (DecodeError::UnknownKind(9), "unknown_kind")
    );
    let mut raw = v4_connect();
    raw.family = 1;
    assert_eq!(
        decode(&encode(&raw), &CLOCK),
        Err(DecodeError::UnknownFamily(1))
    );
}

#[test]
fn clock_offset_converts_and_clamps() {
    let now = ClockOffset::now();
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let mono = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(now.unix_nanos(mono).abs_diff(wall) < 1_000_000_000);
    assert_eq!(ClockOffset::fixed(-10).unix_nanos(3), 0);
    assert_eq!(ClockOffset::fixed(10).unix_nanos(u64::MAX), u64::MAX);
}
