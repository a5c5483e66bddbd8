//! Decode tests: records built the way the kernel writes them, then decoded.

use kotel_common::exec::{
    ExecRecord, ARGS_BYTES, EXEC_RECORD_SIZE, FLAG_ARGS_TRUNCATED, FLAG_ARGS_UNREAD,
    FLAG_CWD_UNWALKED, FLAG_EXE_UNLINKED, FLAG_EXE_UNWALKED, FLAG_EXE_WALK_SHIFT,
    FLAG_PATH_TRUNCATED, FLAG_SCRIPT, INTERP_BYTES, PATH_BYTES,
};
use kotel_common::vfs::{PATH_BUFFER, WALK_DETACHED, WALK_TRUNCATED};

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
        exe_ino: 0,
        exe_dev: 0,
        exe_len: 0,
        cwd_len: 0,
        _pad: 0,
        exe: [0xCC; PATH_BUFFER],
        cwd: [0xDD; PATH_BUFFER],
        interp: [0xEE; INTERP_BYTES],
    };
    rec.comm[..2].copy_from_slice(b"sh");
    rec.path[..path.len()].copy_from_slice(path.as_bytes());
    let block: Vec<u8> = args.iter().flat_map(|a| a.bytes().chain([0])).collect();
    rec.args[..block.len()].copy_from_slice(&block);
    rec.args_len = block.len() as u32;
    rec.flags = FLAG_EXE_UNWALKED | FLAG_CWD_UNWALKED;
    rec
}

/// `rec` with the kernel's walks of the executable and the working directory (components
/// leaf first) and their walk flags.
fn walked(mut rec: ExecRecord, exe: &[u8], exe_walk: u32, cwd: &[u8]) -> ExecRecord {
    rec.exe[..exe.len()].copy_from_slice(exe);
    rec.cwd[..cwd.len()].copy_from_slice(cwd);
    (rec.exe_len, rec.cwd_len, rec.exe_ino) = (exe.len() as u32, cwd.len() as u32, 99);
    rec.flags =
        exe_walk << FLAG_EXE_WALK_SHIFT | (rec.flags & !(FLAG_EXE_UNWALKED | FLAG_CWD_UNWALKED));
    rec
}

#[test]
fn the_executable_and_the_working_directory_are_named() {
    let rec = walked(
        record("./true", &["./true"]),
        b"true\0bin\0usr\0",
        0,
        b"bin\0usr\0",
    );
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!(
        (
            ev.path.as_str(),
            ev.executable.as_str(),
            ev.executable_kind.as_str()
        ),
        ("./true", "/usr/bin/true", "file")
    );
    assert_eq!(
        (ev.working_directory.as_str(), ev.executable_inode),
        ("/usr/bin", 99)
    );
    assert!(ev.script.is_empty() && ev.interpreter.is_empty());
}

#[test]
fn memfd_deleted_and_detached_executables_are_told_apart() {
    let kind = |exe: &[u8], walk: u32, unlinked: bool| {
        let mut rec = walked(record("/proc/self/fd/3", &["x"]), exe, walk, b"tmp\0");
        if unlinked {
            rec.flags |= FLAG_EXE_UNLINKED;
        }
        let ev = decode(&encode(&rec), &clock()).unwrap();
        (ev.executable, ev.executable_kind)
    };
    let s = |t: &str| t.to_string();
    assert_eq!(
        kind(b"memfd:x\0/\0", WALK_DETACHED, false),
        (s("/memfd:x"), s("memfd"))
    );
    assert_eq!(
        kind(b"doomed\0tmp\0", 0, true),
        (s("/tmp/doomed"), s("deleted"))
    );
    assert_eq!(kind(b"f\0", WALK_DETACHED, false), (s("/f"), s("detached")));
    let rec = record("/bin/true", &["x"]);
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!(
        (ev.executable.as_str(), ev.executable_kind.as_str()),
        ("", ""),
        "unwalked"
    );
    let rec = walked(record("/bin/true", &["x"]), b"c\0b\0", WALK_TRUNCATED, b"");
    assert!(
        decode(&encode(&rec), &clock())
            .unwrap()
            .executable_truncated
    );
}

#[test]
fn a_script_names_its_interpreter_and_its_path_under_the_working_directory() {
    let mut rec = walked(
        record("./job.sh", &["/bin/sh", "./job.sh"]),
        b"dash\0bin\0usr\0",
        0,
        b"srv\0",
    );
    rec.flags |= FLAG_SCRIPT;
    rec.interp[..8].copy_from_slice(b"/bin/sh\0");
    let ev = decode(&encode(&rec), &clock()).unwrap();
    assert_eq!(
        (ev.script.as_str(), ev.interpreter.as_str()),
        ("/srv/job.sh", "/bin/sh")
    );
    assert_eq!(ev.executable, "/usr/bin/dash");
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
