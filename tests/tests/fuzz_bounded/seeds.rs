//! The decode and replay fuzz targets' seeds, built from the kernel's own record structs
//! (`kotel-common`) exactly as the ring buffer carries them, and the JSON lines `kotel run
//! --record` writes for such events: `(target, file name, bytes)`.

use std::net::Ipv6Addr;
use std::sync::Arc;

use kotel::component::{Processor, Release};
use kotel::event::{CgroupHistogram, Event, HistogramMetric, TcpCounters, Workload};
use kotel::kernel::clock::ClockOffset;
use kotel::processors::aggregate::{AggregateConfig, AggregateProcessor};
use kotel_common::exec::{ExecRecord, FLAG_ARGS_TRUNCATED, FLAG_ARGS_UNREAD};
use kotel_common::file_open::{matched, syscall, FileOpenRecord, STATUS_RESOLVED_IS_BASE};
use kotel_common::l7::{
    ConnInfo, L7Header, DATA_SEND, RECORD_CLOSE, RECORD_DATA, RECORD_OPEN, ROLE_SERVER,
};
use kotel_common::tcp::{
    state, TcpEvent, TcpEventKind, AF_INET, AF_INET6, DIRECTION_INBOUND, DIRECTION_OUTBOUND,
};

/// One seed file: the fuzz target, the file's name, its bytes.
pub type Seed = (&'static str, String, Vec<u8>);

const CLOCK: ClockOffset = ClockOffset::fixed(1_700_000_000_000_000_000);

/// A kernel record laid out `#[repr(C)]` without padding holes, integers and byte arrays
/// only.
///
/// # Safety
/// Every byte of the type is initialised (no padding) and all-zero bytes are a valid value.
unsafe trait Record: Copy {
    /// The record with every field zero.
    fn zeroed() -> Self {
        // SAFETY: all-zero bytes are a valid value (trait contract).
        unsafe { std::mem::zeroed() }
    }
}
// SAFETY: #[repr(C)] integers and byte arrays with explicit padding fields (kotel-common
// asserts their sizes).
unsafe impl Record for TcpEvent {}
// SAFETY: as above.
unsafe impl Record for ExecRecord {}
// SAFETY: as above.
unsafe impl Record for FileOpenRecord {}
// SAFETY: as above.
unsafe impl Record for L7Header {}
// SAFETY: as above.
unsafe impl Record for ConnInfo {}

/// The record's bytes, exactly as in the ring buffer.
fn bytes<T: Record>(record: &T) -> Vec<u8> {
    // SAFETY: `Record` types have no uninitialised bytes; the slice covers the value only.
    unsafe { std::slice::from_raw_parts((record as *const T).cast::<u8>(), size_of::<T>()) }
        .to_vec()
}

/// `text` at the start of an `N`-byte buffer, the rest `fill` (the kernel leaves stale
/// bytes after strings it does not clear).
fn padded<const N: usize>(text: &[u8], fill: u8) -> [u8; N] {
    let mut out = [fill; N];
    out[..text.len()].copy_from_slice(text);
    out
}

fn tcp_records() -> Vec<(&'static str, TcpEvent)> {
    let mut connect = TcpEvent::zeroed();
    (connect.timestamp_ns, connect.connect_latency_ns) = (1_000, 250_000);
    (connect.cgroup_id, connect.pid, connect.netns) = (4242, 77, 4_026_531_840);
    connect.sock_id = 0xffff_8880_1234_5678;
    (connect.kind, connect.direction) = (TcpEventKind::Connect as u32, DIRECTION_OUTBOUND);
    (connect.old_state, connect.new_state) = (state::SYN_SENT, state::ESTABLISHED);
    (connect.family, connect.local_port, connect.remote_port) = (AF_INET, 40_000, 443);
    connect.local_addr = padded(&[10, 0, 0, 1], 0);
    connect.remote_addr = padded(&[93, 184, 216, 34], 0);
    connect.comm = padded(b"curl", 0);

    let mut close_v6 = connect;
    (close_v6.kind, close_v6.direction) = (TcpEventKind::Close as u32, DIRECTION_INBOUND);
    (close_v6.family, close_v6.duration_ns) = (AF_INET6, 5_000_000);
    close_v6.local_addr = Ipv6Addr::LOCALHOST.octets();
    close_v6.remote_addr = "::ffff:192.0.2.1".parse::<Ipv6Addr>().unwrap().octets();
    (close_v6.bytes_sent, close_v6.bytes_received) = (1_000_001, 4_096);
    (close_v6.srtt_us, close_v6.min_rtt_us, close_v6.retransmits) = (1_250, 980, 3);
    (close_v6.resets_sent, close_v6.resets_received) = (1, 2);

    let mut failed = connect;
    (failed.kind, failed.new_state) = (TcpEventKind::ConnectFailed as u32, state::CLOSE);
    failed.comm = padded(b"sixteen-bytes-xx", 0);

    let mut accept = connect;
    (accept.kind, accept.direction) = (TcpEventKind::Accept as u32, DIRECTION_INBOUND);
    accept.old_state = state::SYN_RECV;
    vec![
        ("connect-v4", connect),
        ("close-v6", close_v6),
        ("connect-failed", failed),
        ("accept", accept),
    ]
}

fn exec_records() -> Vec<(&'static str, ExecRecord)> {
    let argv = b"sh\0-c\0exit 0\0";
    let mut full = ExecRecord::zeroed();
    (full.timestamp_ns, full.cgroup_id) = (1_000, 4242);
    (full.pid, full.ppid, full.uid) = (77, 1, 1000);
    (full.path_len, full.args_len) = (7, argv.len() as u32);
    full.comm = padded(b"sh", 0);
    full.path = padded(b"/bin/sh", 0xAA);
    full.args = padded(argv, 0xBB);
    let (exe, cwd) = (b"dash\0bin\0usr\0", b"tmp\0");
    (full.exe_len, full.exe) = (exe.len() as u32, padded(exe, 0xCC));
    (full.cwd_len, full.cwd) = (cwd.len() as u32, padded(cwd, 0xDD));
    full.exe_ino = 1234;

    let mut cut = full;
    (cut.flags, cut.args_len) = (FLAG_ARGS_TRUNCATED, argv.len() as u32 - 3);
    let mut unread = full;
    (unread.flags, unread.args_len) = (FLAG_ARGS_UNREAD, 0);
    vec![("full", full), ("args-cut", cut), ("args-unread", unread)]
}

fn file_open_records() -> Vec<(&'static str, FileOpenRecord)> {
    let path = b"/etc/shadow";
    let mut read = FileOpenRecord::zeroed();
    (read.timestamp_ns, read.cgroup_id, read.pid, read.tid) = (5_000, 4242, 77, 78);
    (read.ret, read.syscall, read.syscall_nr) = (3, syscall::OPENAT, 257);
    read.comm = padded(b"cat", 0);
    (read.path_bits, read.path) = (path.len() as u32 * 8, padded(path, b'#'));
    let walked = b"shadow\0etc\0";
    (read.resolved_len, read.resolved) = (walked.len() as u32, padded(walked, b'#'));
    (read.matched, read.watch, read.ino, read.dev) = (matched::INODE, 0, 1234, 259 << 20 | 1);

    let mut denied_creat = read;
    let (key, dir) = (b"authorized_keys", b".ssh\0root\0");
    denied_creat.syscall = syscall::CREAT;
    denied_creat.flags = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u32;
    denied_creat.ret = -libc::EACCES;
    (denied_creat.path_bits, denied_creat.path) = (key.len() as u32 * 8, padded(key, b'#'));
    (denied_creat.resolved_len, denied_creat.resolved) = (dir.len() as u32, padded(dir, b'#'));
    (denied_creat.matched, denied_creat.watch) = (matched::DIRECTORY, 1);
    denied_creat.status = STATUS_RESOLVED_IS_BASE;

    let odd_path = b"/root/.ssh/\xff\xfekey";
    let mut not_utf8 = read;
    not_utf8.syscall = syscall::OPENAT2;
    (not_utf8.path_bits, not_utf8.path) = (odd_path.len() as u32 * 8, padded(odd_path, 0));
    vec![
        ("read", read),
        ("creat-denied", denied_creat),
        ("openat2-not-utf8", not_utf8),
    ]
}

/// One event of each kind a recording holds, decoded from the records above where the
/// kernel makes them, and the metrics `aggregate` makes of them all.
fn replay_events() -> Vec<(String, Event)> {
    let workload = Arc::new(Workload::from_pairs([
        ("k8s.namespace.name", "shop"),
        ("k8s.pod.name", "cart-0"),
        ("container.id", "0123abcd"),
    ]));
    let mut events = Vec::new();
    for (name, record) in tcp_records() {
        let mut event = kotel::sources::tcp::decode(&bytes(&record), &CLOCK).unwrap();
        event.workload = Some(workload.clone());
        events.push((format!("tcp-{name}"), Event::Tcp(event)));
    }
    let exec = kotel::sources::exec::decode(&bytes(&exec_records()[0].1), &CLOCK).unwrap();
    events.push(("exec".into(), Event::Exec(exec)));
    let open = &file_open_records()[1].1;
    let watched = ["/etc/shadow".to_string(), "/root/.ssh/".to_string()];
    let open = kotel::sources::file_open::decode(&bytes(open), &CLOCK, &watched).unwrap();
    events.push(("file-open".into(), Event::FileOpen(open)));
    let counters = TcpCounters {
        time_unix_nano: 1_700_000_015_000_000_000,
        interval_ns: 15_000_000_000,
        cgroup_id: 4242,
        retransmits: 4,
        resets_sent: 1,
        resets_received: 0,
        workload: Some(workload),
    };
    events.push(("tcp-counters".into(), Event::TcpCounters(counters)));
    let histogram = CgroupHistogram {
        metric: HistogramMetric::TcpRtt,
        time_unix_nano: 1_700_000_015_000_000_000,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        cgroup_id: 4242,
        scale: 3,
        offset: -80,
        bucket_counts: vec![1, 0, 4, 2],
        zero_count: 1,
        count: 8,
        sum: 0.0042,
        workload: None,
    };
    events.push(("histogram".into(), Event::Histogram(histogram)));
    let mut aggregate = AggregateProcessor::new("aggregate", &AggregateConfig::default());
    aggregate.process(events.iter().map(|(_, e)| e.clone()).collect());
    for metrics in aggregate.release(Release::All) {
        events.push(("metrics".into(), metrics));
    }
    events
}

/// Every generated seed.
pub fn all() -> Vec<Seed> {
    let mut seeds: Vec<Seed> = Vec::new();
    let name = |n: &str| format!("seed-{n}");
    for (n, r) in tcp_records() {
        seeds.push(("tcp_decode", name(n), bytes(&r)));
    }
    for (n, r) in exec_records() {
        seeds.push(("exec_decode", name(n), bytes(&r)));
    }
    for (n, r) in file_open_records() {
        seeds.push(("file_open_decode", name(n), bytes(&r)));
    }
    seeds.push(("l7_records", name("server-keep-alive"), l7_exchange()));
    for (n, event) in replay_events() {
        let mut line = serde_json::to_value(&event).unwrap();
        fix_times(&mut line);
        seeds.push(("replay_line", name(&n), line.to_string().into_bytes()));
    }
    seeds
}

/// Sets every `*time_unix_nano` field to one instant: `aggregate` stamps its metrics with
/// the wall clock, and the seeds must be the same on every run.
fn fix_times(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                if key.ends_with("time_unix_nano") {
                    *field = 1_700_000_015_000_000_000u64.into();
                } else {
                    fix_times(field);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(fix_times),
        _ => {}
    }
}

/// An `l7` record sequence (each behind its 2-byte length): a server connection opened,
/// two requests and their responses, closed.
fn l7_exchange() -> Vec<u8> {
    let header = |kind, flags, start_ns: u64, size: usize, offset: u64| L7Header {
        kind,
        tgid: 4242,
        fd: 5,
        flags,
        opened_ns: 1_000,
        start_ns,
        end_ns: start_ns + 10,
        size: size as u64,
        offset,
        captured: if kind == RECORD_DATA { size as u32 } else { 0 },
        _pad: 0,
    };
    let mut info = ConnInfo {
        cgroup_id: 77,
        role: ROLE_SERVER,
        family: kotel_common::l7::AF_INET,
        local_port: 8080,
        remote_port: 40000,
        ..ConnInfo::zeroed()
    };
    info.local_addr[..4].copy_from_slice(&[10, 0, 0, 1]);
    info.remote_addr[..4].copy_from_slice(&[10, 0, 0, 2]);
    info.comm[..5].copy_from_slice(b"nginx");
    let mut records = vec![[bytes(&header(RECORD_OPEN, 0, 1_000, 0, 0)), bytes(&info)].concat()];
    let exchange: [(&[u8], u32); 4] = [
        (b"GET /users/42 HTTP/1.1\r\nHost: api\r\n\r\n", 0),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", DATA_SEND),
        (
            b"POST /orders HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            0,
        ),
        (b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", DATA_SEND),
    ];
    // Bytes moved so far: received, sent.
    let mut moved = [0u64; 2];
    for (i, (payload, flags)) in exchange.iter().enumerate() {
        let start = 2_000 + 1_000 * i as u64;
        let way = usize::from(*flags == DATA_SEND);
        let offset = moved[way];
        moved[way] += payload.len() as u64;
        records.push(
            [
                bytes(&header(RECORD_DATA, *flags, start, payload.len(), offset)),
                payload.to_vec(),
            ]
            .concat(),
        );
    }
    records.push(bytes(&header(RECORD_CLOSE, 0, 9_000, 0, 0)));
    records
        .iter()
        .flat_map(|r| [(r.len() as u16).to_le_bytes().to_vec(), r.clone()].concat())
        .collect()
}
