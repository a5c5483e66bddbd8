//! Decode tests: records built the way the kernel writes them, then decoded.

use kotel_common::file_open::{
    syscall, FileOpenRecord, FILE_OPEN_RECORD_SIZE, MAX_PREFIX_LEN, PATH_MAX_BYTES,
};

use super::{access_names, decode, DecodeError};
use crate::kernel::clock::ClockOffset;

const CLOCK_OFFSET: i128 = 1_700_000_000_000_000_000;

/// The record's bytes exactly as the kernel puts them into the ring buffer.
pub(crate) fn encode(rec: &FileOpenRecord) -> Vec<u8> {
    // SAFETY: FileOpenRecord is #[repr(C)] plain old data without padding holes.
    unsafe {
        std::slice::from_raw_parts(
            (rec as *const FileOpenRecord).cast::<u8>(),
            FILE_OPEN_RECORD_SIZE,
        )
    }
    .to_vec()
}

/// A record of `path` with stale bytes after it, as the per-CPU scratch leaves them.
pub(crate) fn record(path: &[u8], flags: u32, ret: i32) -> FileOpenRecord {
    let mut buf = [b'#'; PATH_MAX_BYTES];
    buf[..path.len()].copy_from_slice(path);
    buf[path.len()] = 0;
    let mut comm = [0u8; 16];
    comm[..3].copy_from_slice(b"cat");
    FileOpenRecord {
        timestamp_ns: 5_000,
        cgroup_id: 4242,
        pid: 77,
        tid: 78,
        flags,
        ret,
        syscall: syscall::OPENAT,
        syscall_nr: 257,
        path_truncated: 0,
        comm,
        path_bits: path.len() as u32 * 8,
        path: buf,
    }
}

fn clock() -> ClockOffset {
    ClockOffset::fixed(CLOCK_OFFSET)
}

#[test]
fn a_successful_read_round_trips() {
    let ev = decode(&encode(&record(b"/etc/shadow", 0o0, 3)), &clock()).unwrap();
    assert_eq!(ev.time_unix_nano, 1_700_000_000_000_005_000);
    assert_eq!((ev.pid, ev.tid, ev.comm.as_str()), (77, 78, "cat"));
    assert_eq!(ev.cgroup_id, 4242);
    assert_eq!(
        (ev.path.as_str(), ev.path_truncated),
        ("/etc/shadow", false)
    );
    assert_eq!(
        (ev.flags, ev.access.clone(), ev.errno),
        (0, vec!["read".into()], 0)
    );
    assert_eq!(ev.syscall, "openat");
}

#[test]
fn a_failed_create_carries_the_errno_and_flags() {
    let flags = (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u32;
    let mut rec = record(b"/root/.ssh/authorized_keys", flags, -13);
    rec.syscall = syscall::CREAT;
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!(ev.errno, 13);
    assert_eq!(ev.access, ["write", "create", "truncate"]);
    assert_eq!(ev.syscall, "creat");
}

#[test]
fn long_and_odd_paths_decode() {
    let long = vec![b'a'; MAX_PREFIX_LEN];
    let mut rec = record(&long, 0, 4);
    rec.path_truncated = 1;
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!((ev.path.len(), ev.path_truncated), (MAX_PREFIX_LEN, true));
    let ev = decode(&encode(&record(b"/tmp/\xffx\xc3", 0, 4)), &clock()).unwrap();
    assert_eq!(ev.path, "/tmp/\\xffx\\xc3", "non-UTF-8 bytes are escaped");
    let ev = decode(&encode(&record(b"", 0, -2)), &clock()).unwrap();
    assert_eq!((ev.path.as_str(), ev.errno), ("", 2));
}

#[test]
fn truncated_and_oversized_records_are_errors() {
    let good = encode(&record(b"/etc/shadow", 0, 3));
    for n in [0, 1, FILE_OPEN_RECORD_SIZE - 1] {
        assert_eq!(decode(&good[..n], &clock()), Err(DecodeError::Truncated(n)));
    }
    let mut long = good.clone();
    long.extend_from_slice(&[0; 8]);
    let err = decode(&long, &clock()).unwrap_err();
    assert_eq!(err, DecodeError::Oversized(FILE_OPEN_RECORD_SIZE + 8));
    assert_eq!(
        (err.reason(), DecodeError::Truncated(0).reason()),
        ("oversized", "truncated")
    );
}

#[test]
fn bad_fields_are_errors_not_panics() {
    let mut rec = record(b"/etc/shadow", 0, 3);
    rec.syscall = 99;
    assert_eq!(
        decode(&encode(&rec), &clock()),
        Err(DecodeError::UnknownSyscall(99))
    );
    for bits in [PATH_MAX_BYTES as u32 * 8, 13, u32::MAX] {
        let mut rec = record(b"/etc/shadow", 0, 3);
        rec.path_bits = bits;
        let err = decode(&encode(&rec), &clock()).unwrap_err();
        assert_eq!(
            (err.clone(), err.reason()),
            (DecodeError::BadPathLength(bits), "bad_path_length")
        );
    }
    // Found by fuzz/ (file_open_decode): `-ret` overflowed for i32::MIN and panicked.
    for ret in [i32::MIN, -4096] {
        let err = decode(&encode(&record(b"/etc/shadow", 0, ret)), &clock()).unwrap_err();
        assert_eq!(
            (err.clone(), err.reason()),
            (DecodeError::BadReturn(ret), "bad_return")
        );
    }
    let ev = decode(&encode(&record(b"/etc/shadow", 0, -4095)), &clock()).unwrap();
    assert_eq!(ev.errno, 4095);
    // Any bytes at all: an error or an event, never a panic.
    let mut noise = encode(&record(b"/x", 0, 0));
    for (i, b) in noise.iter_mut().enumerate() {
        *b = (i * 37 % 251) as u8;
    }
    let _ = decode(&noise, &clock());
}

#[test]
fn flags_are_named() {
    let f = |flags: i32| access_names(flags as u32);
    assert_eq!(f(libc::O_RDONLY), ["read"]);
    assert_eq!(f(libc::O_WRONLY | libc::O_CREAT), ["write", "create"]);
    assert_eq!(f(libc::O_RDWR | libc::O_APPEND), ["read_write", "append"]);
    assert_eq!(
        f(libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC),
        ["write", "truncate"]
    );
    assert_eq!(f(libc::O_PATH | libc::O_CLOEXEC), ["path"]);
    assert_eq!(f(libc::O_RDWR | libc::O_TMPFILE), ["read_write", "tmpfile"]);
    assert_eq!(
        f(libc::O_RDONLY | libc::O_DIRECTORY),
        ["read"],
        "O_DIRECTORY alone is no tmpfile"
    );
    assert_eq!(f(3), ["read_write"]);
}
