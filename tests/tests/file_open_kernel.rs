//! The `file_open` source against the real kernel, as root: attach the real programs with
//! prefixes this test creates, open watched and unwatched paths from a fresh cgroup, and
//! assert the exact events (filtered by this process's pid and the cgroup's id); an
//! excluded cgroup is dropped in the kernel and counted as `filtered`.
//!
//! Without root the tests print why and return (skip). `scripts/test.sh` runs them as root.
//! The programs' cost per open is measured by `cargo bench --bench file_open_cost`.

#[path = "file_open_kernel/attached.rs"]
mod attached;

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::time::Duration;

use attached::{gettid, thread_comm, Attached, WatchDir};
use kotel::event::FileOpenEvent;
use kotel::sources::file_open::{FileOpenSourceConfig, KERNEL_EVENTS};
use kotel::telemetry::{self, names};
use kotel_integration_tests::{is_root, skip, support};

fn config(paths: Vec<String>) -> FileOpenSourceConfig {
    FileOpenSourceConfig {
        paths,
        ..FileOpenSourceConfig::default()
    }
}

fn kernel_stat(stat: &str) -> f64 {
    telemetry::snapshot().counter_sum(KERNEL_EVENTS, &[("stat", stat)])
}

#[test]
fn watched_opens_are_reported_exactly_and_unwatched_ones_not_at_all() {
    const NAME: &str = "file_open_watched";
    if !is_root() {
        return skip(NAME, "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = WatchDir::create("watched");
    std::fs::write(dir.path("warmup"), b"").unwrap();
    let mut source = Attached::start(config(vec![dir.prefix()]));
    source.warm_up(&dir.0.join("warmup"));

    let fresh = support::FreshCgroup::enter(NAME).expect("a cgroup2 child for the test");
    let (secret, missing, created) = (dir.path("secret"), dir.path("missing"), dir.path("created"));
    let mut text = String::new();
    File::open(&secret)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(
        File::open(&missing).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    drop(
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&created)
            .unwrap(),
    );
    let mut hostname = String::new();
    File::open("/etc/hostname")
        .and_then(|mut f| f.read_to_string(&mut hostname))
        .unwrap();
    // The watched directory itself is a watched inode too.
    drop(File::open(&dir.0).unwrap());
    let (pid, cgroup) = (std::process::id(), fresh.id);
    drop(fresh);

    let mine = |e: &FileOpenEvent| e.pid == pid && e.cgroup_id == cgroup;
    source.collect_until(4, |seen| seen.iter().filter(|e| mine(e)).count());
    let seen = source.stop();
    let events: Vec<&FileOpenEvent> = seen.iter().filter(|e| mine(e)).collect();
    for e in &events {
        eprintln!("{NAME}: {}", serde_json::to_string(e).unwrap());
    }
    let (comm, tid) = (thread_comm(), gettid());
    let watched_dir = dir.0.display().to_string();
    let expect = [
        (&secret, vec!["read"], 0),
        (&missing, vec!["read"], libc::ENOENT),
        (&created, vec!["write", "create"], 0),
        (&watched_dir, vec!["read"], 0),
    ];
    assert_eq!(
        events.len(),
        expect.len(),
        "exactly the watched opens: {events:#?}"
    );
    for (e, (path, access, errno)) in events.iter().zip(expect) {
        assert_eq!(
            (&e.path, &e.access, e.errno),
            (path, &access.iter().map(|s| s.to_string()).collect(), errno)
        );
        assert_eq!(
            (e.pid, e.tid, e.comm.as_str(), e.syscall.as_str()),
            (pid, tid, comm.as_str(), "openat")
        );
        assert!(!e.path_truncated);
        assert_eq!(e.requested_path, e.path, "absolute paths without links");
        assert!(
            e.time_unix_nano > 1_600_000_000_000_000_000,
            "wall-clock time of {e:?}"
        );
    }
    assert_eq!(
        events[2].flags as i32 & (libc::O_WRONLY | libc::O_CREAT),
        libc::O_WRONLY | libc::O_CREAT
    );
    let unwatched: Vec<&FileOpenEvent> = seen
        .iter()
        .filter(|e| !e.path.starts_with(&watched_dir))
        .collect();
    assert!(
        unwatched.is_empty(),
        "unwatched opens reported: {unwatched:#?}"
    );

    let t = telemetry::snapshot();
    assert!(
        t.counter_sum(KERNEL_EVENTS, &[("stat", "emitted")]) >= 5.0,
        "emitted"
    );
    assert_eq!(
        t.counter_sum(names::RINGBUF_LOST, &[("source", "file_open")]),
        0.0
    );
    assert_eq!(
        t.counter_sum(names::DECODE_ERRORS, &[("source", "file_open")]),
        0.0
    );
}

#[test]
fn every_open_syscall_is_hooked() {
    const NAME: &str = "file_open_syscalls";
    if !is_root() {
        return skip(NAME, "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = WatchDir::create("syscalls");
    std::fs::write(dir.path("warmup"), b"").unwrap();
    let mut source = Attached::start(config(vec![dir.prefix()]));
    source.warm_up(&dir.0.join("warmup"));
    let pid = std::process::id();
    let c = |name: &str| CString::new(dir.path(name)).unwrap();
    let mut expect: Vec<(String, &str, Vec<&str>)> = Vec::new();
    // SAFETY: raw syscalls with valid NUL-terminated paths and a valid open_how.
    unsafe {
        // struct open_how { u64 flags; u64 mode; u64 resolve; }
        let how: [u64; 3] = [(libc::O_RDWR | libc::O_CLOEXEC) as u64, 0, 0];
        let fd = libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c("secret").as_ptr(),
            &how,
            std::mem::size_of_val(&how),
        );
        assert!(fd >= 0, "openat2: {}", std::io::Error::last_os_error());
        libc::close(fd as i32);
        expect.push((dir.path("secret"), "openat2", vec!["read_write"]));
        #[cfg(target_arch = "x86_64")]
        {
            let fd = libc::syscall(
                libc::SYS_open,
                c("secret").as_ptr(),
                libc::O_RDONLY | libc::O_APPEND,
            );
            libc::close(fd as i32);
            expect.push((dir.path("secret"), "open", vec!["read", "append"]));
            let fd = libc::syscall(libc::SYS_creat, c("made").as_ptr(), 0o600);
            libc::close(fd as i32);
            expect.push((
                dir.path("made"),
                "creat",
                vec!["write", "create", "truncate"],
            ));
        }
    }
    // The other syscalls' opens of this process ("" would be an open whose arguments were
    // lost: none may be, the enter programs attach first).
    let mine = |e: &FileOpenEvent| e.pid == pid && e.syscall != "openat";
    source.collect_until(expect.len(), |seen| seen.iter().filter(|e| mine(e)).count());
    let seen = source.stop();
    let got: Vec<(String, &str, Vec<&str>)> = seen
        .iter()
        .filter(|e| mine(e))
        .map(|e| {
            (
                e.path.clone(),
                e.syscall.as_str(),
                e.access.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(got, expect);
    assert!(seen.iter().filter(|e| mine(e)).all(|e| e.errno == 0));
}

#[test]
fn an_excluded_cgroup_is_dropped_in_the_kernel_and_counted() {
    const NAME: &str = "file_open_filter";
    if !is_root() {
        return skip(NAME, "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = WatchDir::create("filter");
    let fresh = support::FreshCgroup::enter(NAME).expect("a cgroup2 child for the test");
    let mut cfg = config(vec![dir.prefix()]);
    cfg.filter.exclude.cgroup_ids = vec![fresh.id];
    let before = kernel_stat("filtered");
    let mut source = Attached::start(cfg);
    // Proof of attachment without events: the kernel counts our opens as filtered (the
    // stats map is read every second).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while kernel_stat("filtered") <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing filtered after 10 s"
        );
        let _ = File::open(dir.path("secret"));
        source.receive(Duration::from_millis(200));
    }
    let before = kernel_stat("filtered");
    const N: usize = 20;
    for _ in 0..N {
        drop(File::open(dir.path("secret")).unwrap());
    }
    std::thread::sleep(Duration::from_millis(1200));
    source.receive(Duration::from_millis(300));
    let filtered = kernel_stat("filtered") - before;
    let excluded = fresh.id;
    drop(fresh);
    // Back in the test's own cgroup: reported again (the filter is not "drop everything").
    let after = dir.path("after");
    let _ = File::open(&after);
    source.collect_until(1, |seen| seen.iter().filter(|e| e.path == after).count());
    let seen = source.stop();
    let ours: Vec<&FileOpenEvent> = seen.iter().filter(|e| e.cgroup_id == excluded).collect();
    assert!(ours.is_empty(), "excluded cgroup reported: {ours:#?}");
    let others: Vec<&FileOpenEvent> = seen.iter().filter(|e| e.path == after).collect();
    assert_eq!(
        others.len(),
        1,
        "the open outside the excluded cgroup: {seen:#?}"
    );
    assert_eq!(others[0].errno, libc::ENOENT);
    assert!(
        filtered >= N as f64,
        "filtered grew by {filtered} (want >= {N})"
    );
    eprintln!("{NAME}: {filtered} opens filtered in the kernel, none reported");
}
