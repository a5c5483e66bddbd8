//! Edge cases of the `exec` source against the real kernel: the path bound, execs from a
//! thread, and bursts faster than the reader polls.

use std::process::Command;

use kotel::sources::exec::ExecSourceConfig;
use kotel_common::exec::PATH_BYTES;
use kotel_integration_tests::{is_root, skip};

use super::attached::{
    assert_clean_telemetry, marker, run, serial, with_hook, Attached, TempDir, HOOKS,
};

/// Paths of exactly [`PATH_BYTES`] bytes are kept whole; one byte more is cut and marked.
#[test]
fn a_path_beyond_the_bound_is_cut_and_marked() {
    if !is_root() {
        return skip("path_truncated", "loading kernel programs needs root");
    }
    let _serial = serial();
    let dir = TempDir::new("path");
    let link = |len: usize| {
        let prefix = format!("{}/", dir.0.display());
        let name = "t".repeat(len - prefix.len());
        let path = format!("{prefix}{name}");
        std::os::unix::fs::symlink("/bin/true", &path).unwrap();
        path
    };
    let (exact, over) = (link(PATH_BYTES), link(PATH_BYTES + 1));
    for hook in HOOKS {
        let mut source = Attached::start(with_hook(hook));
        let (m1, m2) = (marker("path"), marker("path"));
        run(&exact, &[&m1]);
        run(&over, &[&m2]);
        let (e1, e2) = (source.wait_for(&m1), source.wait_for(&m2));
        source.stop();
        assert_eq!(
            (e1.path.as_str(), e1.path_truncated),
            (exact.as_str(), false),
            "{hook:?}"
        );
        assert_eq!(
            (e2.path.as_str(), e2.path_truncated),
            (&over[..PATH_BYTES], true),
            "{hook:?}"
        );
    }
}

/// A thread other than the main one execs: the event carries the process's pid (the
/// exec'ing thread takes over the thread group), not the thread's id.
#[test]
fn an_exec_from_a_thread_reports_the_process_pid() {
    if !is_root() {
        return skip("exec_from_thread", "loading kernel programs needs root");
    }
    let _serial = serial();
    let mut source = Attached::start(ExecSourceConfig::default());
    let m = marker("thread");
    let out = Command::new(env!("CARGO_BIN_EXE_kotel-test-thread-exec"))
        .args(["/bin/true", &m])
        .output()
        .expect("running kotel-test-thread-exec");
    assert!(out.status.success(), "{out:?}");
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the helper prints its pid");
    // The helper's own exec carries the marker too: wait for the one from its thread.
    let ev = source.wait_until("the exec from the thread", |e| {
        e.path == "/bin/true" && e.args.get(1) == Some(&m)
    });
    source.stop();
    assert_eq!(
        (ev.pid, ev.ppid, ev.path.as_str()),
        (pid, std::process::id(), "/bin/true")
    );
    assert_eq!(ev.args, ["/bin/true", m.as_str()]);
}

/// A burst of execs faster than the reader polls: every one arrives, none is lost (the
/// kernel wakes the reader once the backlog passes `wakeup_events`).
#[test]
fn a_burst_of_execs_arrives_complete() {
    if !is_root() {
        return skip("exec_burst", "loading kernel programs needs root");
    }
    let _serial = serial();
    const N: usize = 400;
    let mut source = Attached::start(ExecSourceConfig::default());
    let m = marker("burst");
    run(
        "/bin/sh",
        &[
            "-c",
            &format!("for i in $(seq {N}); do /bin/true {m} $i; done"),
        ],
    );
    let n = N.to_string();
    let last = source.wait_until("the last exec of the burst", |e| {
        e.args.len() == 3 && e.args[1] == m && e.args[2] == n
    });
    assert_eq!(last.path, "/bin/true");
    let seen = source.stop();
    let burst = seen.iter().filter(|e| e.args.get(1) == Some(&m)).count();
    assert_eq!(burst, N, "every exec of the burst");
    assert_clean_telemetry();
}
