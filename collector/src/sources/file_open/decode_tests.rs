//! Decode tests: records built the way the kernel writes them, then decoded.

use kotel_common::file_open::{
    matched, syscall, FileOpenRecord, FILE_OPEN_RECORD_SIZE, MAX_PREFIX_LEN, PATH_MAX_BYTES,
    STATUS_ARGS_LOST, STATUS_REQUESTED_TRUNCATED, STATUS_RESOLVED_IS_BASE, STATUS_UNLINKED,
    STATUS_WALK_SHIFT,
};
use kotel_common::vfs::{kernel_dev, PATH_BUFFER, WALK_DETACHED, WALK_TRUNCATED};

use super::{access_names, decode, DecodeError};
use crate::kernel::clock::ClockOffset;

const CLOCK_OFFSET: i128 = 1_700_000_000_000_000_000;

/// The configured paths the records' `watch` indexes refer to.
pub(crate) fn watched() -> Vec<String> {
    vec!["/etc/shadow".into(), "/root/.ssh/".into()]
}

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

/// A record of an open that requested `requested` and resolved to `resolved` (components
/// leaf first, NUL-terminated), with stale bytes after both, as the per-CPU scratch leaves
/// them.
pub(crate) fn record(requested: &[u8], resolved: &[u8], flags: u32, ret: i32) -> FileOpenRecord {
    let mut path = [b'#'; PATH_MAX_BYTES];
    path[..requested.len()].copy_from_slice(requested);
    path[requested.len()] = 0;
    let mut walked = [b'#'; PATH_BUFFER];
    walked[..resolved.len()].copy_from_slice(resolved);
    let mut comm = [0u8; 16];
    comm[..3].copy_from_slice(b"cat");
    FileOpenRecord {
        timestamp_ns: 5_000,
        cgroup_id: 4242,
        ino: 1234,
        pid: 77,
        tid: 78,
        dev: kernel_dev(259, 1),
        flags,
        ret,
        syscall: syscall::OPENAT,
        syscall_nr: 257,
        matched: matched::INODE,
        watch: 0,
        status: 0,
        resolved_len: resolved.len() as u32,
        comm,
        path_bits: requested.len() as u32 * 8,
        path,
        resolved: walked,
    }
}

fn clock() -> ClockOffset {
    ClockOffset::fixed(CLOCK_OFFSET)
}

fn dec(rec: &FileOpenRecord) -> Result<crate::event::FileOpenEvent, DecodeError> {
    decode(&encode(rec), &clock(), &watched())
}

#[test]
fn a_successful_read_carries_both_paths_and_the_identity() {
    let ev = dec(&record(b"../etc/shadow", b"shadow\0etc\0", 0o0, 3)).unwrap();
    assert_eq!(ev.time_unix_nano, 1_700_000_000_000_005_000);
    assert_eq!((ev.pid, ev.tid, ev.comm.as_str()), (77, 78, "cat"));
    assert_eq!(ev.cgroup_id, 4242);
    assert_eq!(
        (ev.path.as_str(), ev.path_truncated),
        ("/etc/shadow", false)
    );
    assert_eq!(ev.requested_path, "../etc/shadow");
    assert_eq!((ev.inode, ev.device.as_str()), (1234, "259:1"));
    assert_eq!(
        (ev.matched.as_str(), ev.watched_path.as_str()),
        ("inode", "/etc/shadow")
    );
    assert_eq!(
        (ev.flags, ev.access.clone(), ev.errno),
        (0, vec!["read".into()], 0)
    );
    assert_eq!(ev.syscall, "openat");
    assert!(!ev.unlinked && !ev.path_detached);
}

#[test]
fn a_failed_relative_open_joins_its_directory_and_the_requested_path() {
    let flags = (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u32;
    let mut rec = record(b"authorized_keys", b".ssh\0root\0", flags, -13);
    rec.syscall = syscall::CREAT;
    rec.status = STATUS_RESOLVED_IS_BASE;
    rec.matched = matched::DIRECTORY;
    rec.watch = 1;
    let ev = dec(&rec).unwrap();
    assert_eq!(ev.path, "/root/.ssh/authorized_keys");
    assert_eq!((ev.errno, ev.inode, ev.device.as_str()), (13, 0, ""));
    assert_eq!(ev.access, ["write", "create", "truncate"]);
    assert_eq!(
        (ev.syscall.as_str(), ev.matched.as_str()),
        ("creat", "directory")
    );
    assert_eq!(ev.watched_path, "/root/.ssh/");
}

#[test]
fn a_failed_absolute_open_reports_the_requested_path() {
    let mut rec = record(b"/etc/shadow", b"", 0, -2);
    rec.resolved_len = 0;
    rec.matched = matched::PATH;
    let ev = dec(&rec).unwrap();
    assert_eq!(
        (ev.path.as_str(), ev.errno, ev.matched.as_str()),
        ("/etc/shadow", 2, "path")
    );
}

#[test]
fn lost_arguments_unlinked_files_and_walk_flags_decode() {
    let mut rec = record(b"stale", b"memfd:x\0", libc::O_RDWR as u32, 5);
    rec.syscall = syscall::UNKNOWN;
    rec.status = STATUS_ARGS_LOST | STATUS_UNLINKED | (WALK_DETACHED << STATUS_WALK_SHIFT);
    let ev = dec(&rec).unwrap();
    assert_eq!((ev.requested_path.as_str(), ev.syscall.as_str()), ("", ""));
    assert_eq!(ev.path, "/memfd:x");
    assert!(ev.unlinked && ev.path_detached && !ev.path_truncated);
    let mut rec = record(b"x", b"c\0b\0", 0, 3);
    rec.status = WALK_TRUNCATED << STATUS_WALK_SHIFT;
    let ev = dec(&rec).unwrap();
    assert_eq!((ev.path.as_str(), ev.path_truncated), ("/b/c", true));
}

#[test]
fn long_and_odd_paths_decode() {
    let long = vec![b'a'; MAX_PREFIX_LEN];
    let mut rec = record(&long, b"", 0, -2);
    rec.status = STATUS_REQUESTED_TRUNCATED;
    rec.matched = matched::PATH;
    let ev = dec(&rec).unwrap();
    assert_eq!((ev.path.len(), ev.path_truncated), (MAX_PREFIX_LEN, true));
    assert!(ev.requested_path_truncated);
    let ev = dec(&record(b"/tmp/\xffx\xc3", b"\xffx\xc3\0tmp\0", 0, 4)).unwrap();
    assert_eq!(ev.path, "/tmp/\\xffx\\xc3", "non-UTF-8 bytes are escaped");
    assert_eq!(ev.requested_path, "/tmp/\\xffx\\xc3");
}

#[test]
fn truncated_and_oversized_records_are_errors() {
    let good = encode(&record(b"/etc/shadow", b"shadow\0etc\0", 0, 3));
    for n in [0, 1, FILE_OPEN_RECORD_SIZE - 1] {
        assert_eq!(
            decode(&good[..n], &clock(), &watched()),
            Err(DecodeError::Truncated(n))
        );
    }
    let mut long = good.clone();
    long.extend_from_slice(&[0; 8]);
    let err = decode(&long, &clock(), &watched()).unwrap_err();
    assert_eq!(err, DecodeError::Oversized(FILE_OPEN_RECORD_SIZE + 8));
    assert_eq!(
        (err.reason(), DecodeError::Truncated(0).reason()),
        ("oversized", "truncated")
    );
}

#[test]
fn bad_fields_are_errors_not_panics() {
    let base = || record(b"/etc/shadow", b"shadow\0etc\0", 0, 3);
    let mut rec = base();
    rec.syscall = 99;
    assert_eq!(dec(&rec), Err(DecodeError::UnknownSyscall(99)));
    let mut rec = base();
    rec.matched = 0;
    assert_eq!(dec(&rec).unwrap_err().reason(), "unknown_match");
    let mut rec = base();
    rec.watch = 2;
    assert_eq!(dec(&rec), Err(DecodeError::UnknownWatch(2)));
    for bits in [PATH_MAX_BYTES as u32 * 8, 13, u32::MAX] {
        let mut rec = base();
        rec.path_bits = bits;
        assert_eq!(dec(&rec).unwrap_err().reason(), "bad_path_length");
    }
    let mut rec = base();
    rec.resolved_len = PATH_BUFFER as u32 + 1;
    assert_eq!(dec(&rec).unwrap_err().reason(), "bad_path_length");
    // Found by fuzz/ (file_open_decode): `-ret` overflowed for i32::MIN and panicked.
    for ret in [i32::MIN, -4096] {
        let err = dec(&record(b"/etc/shadow", b"", 0, ret)).unwrap_err();
        assert_eq!(
            (err.clone(), err.reason()),
            (DecodeError::BadReturn(ret), "bad_return")
        );
    }
    assert_eq!(
        dec(&record(b"/etc/shadow", b"", 0, -4095)).unwrap().errno,
        4095
    );
    // Any bytes at all: an error or an event, never a panic.
    let mut noise = encode(&record(b"/x", b"x\0", 0, 0));
    for (i, b) in noise.iter_mut().enumerate() {
        *b = (i * 37 % 251) as u8;
    }
    let _ = decode(&noise, &clock(), &watched());
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
