//! Decode tests: records built the way the kernel writes them, then decoded.

use kotel_common::exec::{
    ExecRecord, ARGS_BYTES, EXEC_RECORD_SIZE, FLAG_ARGS_TRUNCATED, FLAG_ARGS_UNREAD,
    FLAG_PATH_TRUNCATED, PATH_BYTES,
};

use super::{decode, split_args, DecodeError};
use crate::kernel::clock::ClockOffset;

/// The record's bytes exactly as the kernel puts them into the ring buffer.
pub(crate) fn encode(rec: &ExecRecord) -> Vec<u8> {
    // SAFETY: ExecRecord is #[repr(C)] plain old data without padding holes.
    unsafe { std::slice::from_raw_parts((rec as *const ExecRecord).cast::<u8>(), EXEC_RECORD_SIZE) }
        .to_vec()
}

/// A record of `path` run with `args` (each NUL-terminated, as the kernel lays argv out);
/// the bytes after the lengths are garbage, as in the ring buffer.
pub(crate) fn record(path: &str, args: &[&str]) -> ExecRecord {
    let mut rec = ExecRecord {
        timestamp_ns: 1_000,
        cgroup_id: 4242,
        pid: 77,
        ppid: 1,
        uid: 1000,
        flags: 0,
        path_len: path.len() as u32,
        args_len: 0,
        comm: [0; 16],
        path: [0xAA; PATH_BYTES],
        args: [0xBB; ARGS_BYTES],
    };
    rec.comm[..2].copy_from_slice(b"sh");
    rec.path[..path.len()].copy_from_slice(path.as_bytes());
    let block: Vec<u8> = args.iter().flat_map(|a| a.bytes().chain([0])).collect();
    rec.args[..block.len()].copy_from_slice(&block);
    rec.args_len = block.len() as u32;
    rec
}

const CLOCK_OFFSET: i128 = 1_700_000_000_000_000_000;

fn clock() -> ClockOffset {
    ClockOffset::fixed(CLOCK_OFFSET)
}

#[test]
fn a_full_record_round_trips() {
    let rec = record("/bin/sh", &["sh", "-c", "exit 0", "kotel-test-marker"]);
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!(ev.time_unix_nano, 1_700_000_000_000_001_000);
    assert_eq!((ev.pid, ev.ppid, ev.uid, ev.cgroup_id), (77, 1, 1000, 4242));
    assert_eq!((ev.comm.as_str(), ev.path.as_str()), ("sh", "/bin/sh"));
    assert_eq!(ev.args, ["sh", "-c", "exit 0", "kotel-test-marker"]);
    assert!(!ev.args_truncated && !ev.path_truncated);
}

#[test]
fn argv_cut_inside_an_argument_keeps_the_cut_tail_and_is_marked() {
    let mut rec = record("/usr/bin/env", &["env", "abcdef"]);
    rec.args_len -= 4; // "env\0abcdef\0" cut to "env\0abc"
    rec.flags = FLAG_ARGS_TRUNCATED;
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!(ev.args, ["env", "abc"]);
    assert!(ev.args_truncated);
}

#[test]
fn argv_cut_between_arguments_is_marked_without_a_partial_one() {
    let mut rec = record("/usr/bin/env", &["env", "a"]);
    rec.flags = FLAG_ARGS_TRUNCATED;
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!(
        (ev.args, ev.args_truncated),
        (vec!["env".into(), "a".into()], true)
    );
}

#[test]
fn a_full_budget_of_argv_decodes() {
    let long = "x".repeat(ARGS_BYTES);
    let mut rec = record("/bin/true", &[]);
    rec.args.copy_from_slice(long.as_bytes());
    rec.args_len = ARGS_BYTES as u32;
    rec.flags = FLAG_ARGS_TRUNCATED;
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!((ev.args, ev.args_truncated), (vec![long], true));
}

#[test]
fn unread_argv_is_empty_and_marked() {
    let mut rec = record("/bin/true", &[]);
    rec.flags = FLAG_ARGS_UNREAD;
    rec.ppid = 0;
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!((ev.args.len(), ev.args_truncated, ev.ppid), (0, true, 0));
}

#[test]
fn a_cut_path_is_marked() {
    let long = format!("/{}", "p".repeat(PATH_BYTES - 1));
    let mut rec = record(&long, &["p"]);
    rec.flags = FLAG_PATH_TRUNCATED;
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!((ev.path.len(), ev.path_truncated), (PATH_BYTES, true));
    assert!(!ev.args_truncated);
}

#[test]
fn split_args_cases() {
    let cases: &[(&[u8], &[&str])] = &[
        (b"", &[]),
        (b"\0", &[""]),
        (b"a\0b\0", &["a", "b"]),
        (b"a\0\0", &["a", ""]),
        (b"a\0b", &["a", "b"]),
        (b"a\xffb\0", &["a\u{fffd}b"]),
    ];
    for (block, want) in cases {
        assert_eq!(split_args(block), *want, "{block:?}");
    }
}

#[test]
fn comm_without_nul_is_whole() {
    let mut rec = record("/x", &["x"]);
    rec.comm = *b"sixteen-chars-xy";
    assert_eq!(
        decode(&encode(&rec), &clock()).unwrap().comm,
        "sixteen-chars-xy"
    );
}

#[test]
fn truncated_and_oversized_records_are_errors() {
    let bytes = encode(&record("/bin/sh", &["sh"]));
    for len in [0, 1, 8, EXEC_RECORD_SIZE - 1] {
        assert_eq!(
            decode(&bytes[..len], &clock()),
            Err(DecodeError::Truncated(len))
        );
    }
    let mut long = bytes.clone();
    long.extend_from_slice(&[0; 8]);
    let err = decode(&long, &clock()).unwrap_err();
    assert_eq!(err, DecodeError::Oversized(EXEC_RECORD_SIZE + 8));
    assert_eq!(err.reason(), "oversized");
}

#[test]
fn lengths_beyond_their_buffers_are_errors() {
    let mut rec = record("/bin/sh", &["sh"]);
    rec.path_len = PATH_BYTES as u32 + 1;
    let err = decode(&encode(&rec), &clock()).unwrap_err();
    assert_eq!(err.reason(), "bad_length");
    assert!(err.to_string().contains("path_len"), "{err}");
    let mut rec = record("/bin/sh", &["sh"]);
    rec.args_len = u32::MAX;
    let err = decode(&encode(&rec), &clock()).unwrap_err();
    assert!(err.to_string().contains("args_len"), "{err}");
}
