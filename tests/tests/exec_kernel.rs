//! The `exec` source against the real kernel, as root: attach the real program (each test
//! runs under both hooks where they differ), exec known binaries with known argv from this
//! test and assert the exact events; failed and filtered execs must produce none.
//!
//! Without root the tests print why and return (skip). `scripts/test.sh` runs them as root.
//! Each test holds `support::CGROUP_LOCK` for its whole run: one source at a time, so the
//! process-wide self-telemetry deltas are this test's own.

#[path = "exec_kernel/attached.rs"]
mod attached;
#[path = "exec_kernel/edges.rs"]
mod edges;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kotel::component::{Shutdown, Source, SourceOutput};
use kotel::config::ComponentId;
use kotel::sources::exec::{ExecSource, ExecSourceConfig, HookChoice, KERNEL_EVENTS};
use kotel_common::exec::ARGS_BYTES;
use kotel_integration_tests::{is_root, skip, support};

use attached::{
    assert_clean_telemetry, counter, marker, run, run_as, serial, with_hook, Attached, TempDir,
    HOOKS,
};

#[test]
fn a_successful_exec_is_reported_exactly() {
    if !is_root() {
        return skip(
            "exec_reported_exactly",
            "loading kernel programs needs root",
        );
    }
    let _serial = serial();
    // Both hooks, and both wakeup policies (every record / every n-th per CPU).
    for (hook, wakeup_events) in [(HookChoice::TpBtf, 256), (HookChoice::Tracepoint, 0)] {
        let emitted_before = counter(KERNEL_EVENTS, &[("stat", "emitted")]);
        let mut source = Attached::start(ExecSourceConfig {
            wakeup_events,
            ..with_hook(hook)
        });
        let fresh = support::FreshCgroup::enter("exec").expect("creating a cgroup2 child");
        let cgroup = fresh.id;
        let m = marker("exact");
        let pid = run("/bin/sh", &["-c", "exit 0", &m]);
        drop(fresh);
        let ev = source.wait_for(&m);
        eprintln!("exec_reported_exactly ({hook:?}): {ev:?}");
        assert_ne!(
            cgroup,
            support::own_cgroup_id().unwrap(),
            "a cgroup of its own"
        );
        assert_eq!(
            (ev.pid, ev.ppid, ev.uid, ev.cgroup_id),
            (pid, std::process::id(), 0, cgroup),
        );
        assert_eq!((ev.path.as_str(), ev.comm.as_str()), ("/bin/sh", "sh"));
        assert_eq!(ev.args, ["/bin/sh", "-c", "exit 0", m.as_str()]);
        assert!(!ev.args_truncated && !ev.path_truncated);
        assert!(ev.time_unix_nano > 1_600_000_000_000_000_000);
        // The real uid of an unprivileged process (0 is also what a failed read gives).
        let nobody = marker("nobody");
        let pid = run_as(65534, "/bin/true", &[&nobody]);
        let ev = source.wait_for(&nobody);
        assert_eq!((ev.pid, ev.ppid, ev.uid), (pid, std::process::id(), 65534));
        let seen = source.stop();
        assert_eq!(seen.iter().filter(|e| e.args.contains(&m)).count(), 1);
        assert!(counter(KERNEL_EVENTS, &[("stat", "emitted")]) - emitted_before >= 2.0);
        assert_clean_telemetry();
    }
}

/// A `#!` script: the path and comm are the script's, argv the interpreter's (what the
/// new process received, as /proc/PID/cmdline shows it).
#[test]
fn a_script_reports_its_path_and_the_interpreter_argv() {
    if !is_root() {
        return skip("exec_script", "loading kernel programs needs root");
    }
    let _serial = serial();
    let dir = TempDir::new("script");
    let script = dir.0.join("kotel-script");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = script.to_str().unwrap();
    for hook in HOOKS {
        let mut source = Attached::start(with_hook(hook));
        let m = marker("script");
        let pid = run(path, &[&m]);
        let ev = source.wait_for(&m);
        source.stop();
        assert_eq!((ev.pid, ev.ppid), (pid, std::process::id()), "{hook:?}");
        assert_eq!((ev.path.as_str(), ev.comm.as_str()), (path, "kotel-script"));
        assert_eq!(ev.args, ["/bin/sh", path, m.as_str()], "{hook:?}");
    }
}

#[test]
fn failed_execs_produce_no_event() {
    if !is_root() {
        return skip("failed_execs", "loading kernel programs needs root");
    }
    let _serial = serial();
    for hook in HOOKS {
        let mut source = Attached::start(with_hook(hook));
        let m = marker("failed");
        for program in ["/nonexistent/kotel", "/etc/passwd"] {
            let err = Command::new(program).arg(&m).spawn().map(|mut c| c.wait());
            assert!(err.is_err(), "exec of {program} should fail: {err:?}");
        }
        // A later exec that is reported proves the failed ones had their chance.
        let barrier = marker("barrier");
        run("/bin/true", &[&barrier]);
        source.wait_for(&barrier);
        let seen = source.stop();
        let failed: Vec<_> = seen
            .iter()
            .filter(|e| e.args.contains(&m) || e.path.starts_with("/nonexistent"))
            .collect();
        assert!(
            failed.is_empty(),
            "{hook:?}: events of failed execs: {failed:?}"
        );
        assert_clean_telemetry();
    }
}

#[test]
fn argv_beyond_the_budget_is_cut_and_marked() {
    if !is_root() {
        return skip("argv_truncated", "loading kernel programs needs root");
    }
    let _serial = serial();
    // 30 arguments of 99 bytes: ~3 KiB of argv, cut inside an argument.
    let long: Vec<String> = (0..30)
        .map(|i| format!("{i:02}{}", "a".repeat(97)))
        .collect();
    for hook in HOOKS {
        let truncated_before = counter(KERNEL_EVENTS, &[("stat", "args_truncated")]);
        let mut source = Attached::start(with_hook(hook));
        let m = marker("long");
        let mut args: Vec<&str> = vec![&m];
        args.extend(long.iter().map(String::as_str));
        run("/bin/true", &args);
        let ev = source.wait_for(&m);
        source.stop();
        assert!(ev.args_truncated, "{hook:?}: {ev:?}");
        let full: Vec<u8> = std::iter::once("/bin/true")
            .chain(args.iter().copied())
            .flat_map(|a| a.bytes().chain([0]))
            .collect();
        let kept = ev.args.join("\0");
        assert_eq!(
            kept.as_bytes(),
            &full[..ARGS_BYTES],
            "the first {ARGS_BYTES} bytes"
        );
        assert!(ev.args.last().unwrap().len() < 99, "the last one is cut");
        let truncated = counter(KERNEL_EVENTS, &[("stat", "args_truncated")]);
        assert!(truncated - truncated_before >= 1.0);
    }
}

#[test]
fn an_excluded_cgroup_produces_no_event_and_counts_as_filtered() {
    if !is_root() {
        return skip("exec_filter", "loading kernel programs needs root");
    }
    let _serial = serial();
    // A shell reading commands from stdin, alone in a fresh cgroup: what it runs is excluded.
    let mut shell = Command::new("/bin/sh")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawning a shell");
    let cgroup = support::FreshCgroup::move_pid(shell.id(), "excluded").expect("cgroup");
    let mut config = ExecSourceConfig::default();
    config.filter.exclude.cgroup_ids = vec![cgroup.id];
    let filtered_before = counter(KERNEL_EVENTS, &[("stat", "filtered")]);
    let mut source = Attached::start(config);
    let m = marker("filtered");
    let mut stdin = shell.stdin.take().unwrap();
    writeln!(stdin, "/bin/true {m}; /bin/true {m}; exit 0").unwrap();
    drop(stdin);
    assert!(shell.wait().unwrap().success());
    let barrier = marker("barrier");
    run("/bin/true", &[&barrier]);
    source.wait_for(&barrier);
    let seen = source.stop(); // the last stats poll happens at shutdown
    let excluded = cgroup.id;
    drop(cgroup);
    assert!(
        !seen.iter().any(|e| e.args.contains(&m)),
        "an exec in excluded cgroup {excluded} was reported"
    );
    let filtered = counter(KERNEL_EVENTS, &[("stat", "filtered")]) - filtered_before;
    assert!(
        filtered >= 2.0,
        "kernel_events{{stat=filtered}} grew by {filtered}"
    );
}

/// Attach, see no particular exec, shut down: returns `Ok(())` promptly (detaching).
#[test]
fn shutdown_without_execs_is_prompt() {
    if !is_root() {
        return skip("exec_shutdown", "loading kernel programs needs root");
    }
    let _serial = serial();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (out, _rx) = SourceOutput::for_test(16);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let id: ComponentId = "exec/idle".parse().unwrap();
    let source = Box::new(ExecSource::new(&id, &ExecSourceConfig::default()));
    let task = rt.spawn(source.run(out, Shutdown::new(stop_rx)));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !task.is_finished(),
        "stopped on its own: {:?}",
        rt.block_on(task)
    );
    let asked = Instant::now();
    stop.send(true).unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), task).await })
        .expect("stops within 2 s")
        .expect("task")
        .expect("Ok(()) after shutdown");
    eprintln!(
        "exec_shutdown: stopped {:?} after the request",
        asked.elapsed()
    );
}
