//! The `file_open` source matches what is opened, not the string passed (root, real kernel):
//! every way of reaching a watched file from the table is reported with the
//! resolved path, the requested string, flags and result; a watched directory covers what
//! lies below it however it is reached; a replaced or not-yet-created watched file is
//! followed; and a watched path is resolved in another mount namespace too.
//!
//! Each test moves the process into a fresh cgroup and runs the opens there (shell
//! commands, or this thread), then asserts on the events of that cgroup only.

#[allow(dead_code)] // shared with file_open_kernel; this test uses a part
#[path = "file_open_kernel/attached.rs"]
mod attached;

use std::ffi::CString;
use std::path::Path;
use std::time::Duration;

use attached::{Attached, WatchDir};
use kotel::event::FileOpenEvent;
use kotel::sources::file_open::plan::KernelFacts;
use kotel::sources::file_open::{FileOpenSourceConfig, KERNEL_EVENTS};
use kotel_integration_tests::fd_table::Table;
use kotel_integration_tests::{is_root, skip, support};

fn config(paths: Vec<String>) -> FileOpenSourceConfig {
    FileOpenSourceConfig {
        paths,
        rescan_interval: Duration::from_millis(200),
        ..FileOpenSourceConfig::default()
    }
}

/// Runs `script` with `sh -c` in processes with a small descriptor table (the file_open
/// exit reads their files through BTF pointers) and asserts it succeeded.
fn sh(script: &str) {
    sh_in(Table::Small, script);
}

/// Runs `script` with `sh -c` in processes with descriptor table `table` and asserts it
/// succeeded.
fn sh_in(table: Table, script: &str) {
    let status = table.sh(script).status().unwrap();
    assert!(
        status.success(),
        "`{script}` ({table:?} table) failed: {status}"
    );
}

/// Runs `script` as user and group 65534 (`nobody`; it may fail: that is the point).
fn sh_as_nobody(table: Table, script: &str) {
    use std::os::unix::process::CommandExt;
    let _ = table.sh(script).uid(65534).gid(65534).status().expect("sh");
}

/// Collects until `want` events pass `mine` (or 10 s), stops the source, and returns those
/// events, printed for the log.
fn collect(
    mut source: Attached,
    name: &str,
    want: usize,
    mine: impl Fn(&FileOpenEvent) -> bool,
) -> Vec<FileOpenEvent> {
    source.collect_until(want, |seen| seen.iter().filter(|e| mine(e)).count());
    let events: Vec<FileOpenEvent> = source.stop().into_iter().filter(|e| mine(e)).collect();
    for e in &events {
        eprintln!("{name}: {}", serde_json::to_string(e).unwrap());
    }
    events
}

/// `(requested, resolved, match, errno)` of each event.
fn rows(events: &[FileOpenEvent]) -> Vec<(String, String, String, i32)> {
    events
        .iter()
        .map(|e| {
            (
                e.requested_path.clone(),
                e.path.clone(),
                e.matched.clone(),
                e.errno,
            )
        })
        .collect()
}

/// Opens `name` relative to an open descriptor of `dir` (`openat(dirfd, name)`).
fn open_at(dir: &Path, name: &str) {
    let d = CString::new(dir.to_str().unwrap()).unwrap();
    let n = CString::new(name).unwrap();
    // SAFETY: valid NUL-terminated paths; descriptors are closed right away.
    unsafe {
        let dfd = libc::open(d.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        assert!(dfd >= 0);
        let fd = libc::openat(dfd, n.as_ptr(), libc::O_RDONLY);
        assert!(fd >= 0, "openat: {}", std::io::Error::last_os_error());
        libc::close(fd);
        libc::close(dfd);
    }
}

#[test]
fn every_way_to_reach_a_watched_file_is_reported() {
    const NAME: &str = "file_open_table";
    if !is_root() {
        return skip(NAME, "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    // Both ways the exit reads an opened file: a small descriptor table's, and one that
    // has grown.
    for table in Table::BOTH {
        every_way(NAME, table);
    }
}

fn every_way(name: &str, table: Table) {
    let fds = table.open_descriptors();
    eprintln!("{name}: opening from processes with a {table:?} descriptor table ({fds:?})");
    assert_eq!(
        fds.contains(&100),
        table == Table::Grown,
        "{table:?}: {fds:?}"
    );
    assert!(
        fds.iter().all(|fd| *fd <= 3 || *fd == 100),
        "{table:?}: {fds:?}"
    );
    let dir = WatchDir::create("table");
    let root = dir.0.display().to_string();
    let etc = dir.0.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let shadow = format!("{root}/etc/shadow");
    std::fs::write(&shadow, b"root:*:1::::::\n").unwrap();
    std::fs::set_permissions(&shadow, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&shadow, format!("{root}/x")).unwrap();
    let mut source = Attached::start(config(vec![shadow.clone()]));
    source.warm_up(Path::new(&shadow));
    // Hard-linked after start: the link is a new name of the watched inode.
    std::fs::hard_link(&shadow, format!("{root}/h")).unwrap();
    let typed_before = settled_typed_matches();

    let fresh = support::FreshCgroup::enter(name).expect("a cgroup2 child for the test");
    sh_in(table, &format!("cat {shadow} >/dev/null"));
    sh_in(table, &format!("cd {root}/etc && cat shadow >/dev/null"));
    sh_in(table, &format!("cat {root}/x >/dev/null"));
    sh_in(table, &format!("cat {root}/etc/../etc/shadow >/dev/null"));
    sh_in(table, &format!("cat /{root}//etc//shadow >/dev/null"));
    sh_in(table, &format!("cat {root}/h >/dev/null"));
    open_at(&etc, "shadow");
    // Denied (not root): still reported, by the requested path and by name in its directory.
    sh_as_nobody(table, &format!("cat {shadow} 2>/dev/null"));
    sh_as_nobody(table, &format!("cd {root}/etc && cat shadow 2>/dev/null"));
    let cgroup = fresh.id;
    drop(fresh);

    let events = collect(source, name, 9, |e| e.cgroup_id == cgroup);
    let s = |t: &str| t.to_string();
    let ok = |requested: String, resolved: &str| (requested, s(resolved), s("inode"), 0);
    let expect = vec![
        ok(shadow.clone(), &shadow),
        ok(s("shadow"), &shadow),
        ok(format!("{root}/x"), &shadow),
        ok(format!("{root}/etc/../etc/shadow"), &shadow),
        ok(format!("/{root}//etc//shadow"), &shadow),
        ok(format!("{root}/h"), &format!("{root}/h")),
        ok(s("shadow"), &shadow),
        (shadow.clone(), shadow.clone(), s("path"), libc::EACCES),
        (s("shadow"), shadow.clone(), s("name"), libc::EACCES),
    ];
    assert_eq!(rows(&events), expect);
    for e in &events {
        assert_eq!(e.access, ["read"], "{e:?}");
        assert_eq!(e.watched_path, shadow);
        assert!(
            !e.path_truncated && !e.path_detached && !e.unlinked,
            "{e:?}"
        );
        if e.errno == 0 {
            assert!(e.inode > 0 && !e.device.is_empty(), "{e:?}");
        }
    }
    let comms: Vec<&str> = events.iter().map(|e| e.comm.as_str()).collect();
    assert_eq!(
        comms.iter().filter(|c| **c == "cat").count(),
        8,
        "{comms:?}"
    );
    // The six successful `cat`s were read through BTF pointers exactly where this kernel
    // does it for their table; `open_at` ran in this process, whatever its table.
    let typed = kernel_stat("typed_matches") - typed_before;
    if typed_here(table) {
        assert!(typed >= 6.0, "typed matches: {typed}");
    } else {
        assert!(typed <= 1.0, "typed matches: {typed}");
    }
}

fn kernel_stat(stat: &str) -> f64 {
    kotel::telemetry::snapshot().counter_sum(KERNEL_EVENTS, &[("stat", stat)])
}

/// `typed_matches` once the warm-up's opens are counted: the same in two reads of the stats
/// (which the source reads every second, later on a slow emulated machine), 10 s at most.
fn settled_typed_matches() -> f64 {
    let mut last = kernel_stat("typed_matches");
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(1200));
        let now = kernel_stat("typed_matches");
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// Whether the exit reads the files of a process with `table` through BTF pointers on this
/// kernel: where it reads the arguments from the registers (5.15+), a small table's always,
/// a grown one's where the kernel casts pointers (`bpf_rdonly_cast`, 6.2+).
fn typed_here(table: Table) -> bool {
    let facts = KernelFacts::of_running_kernel(Path::new("/proc"));
    facts.regs.valid != 0 && (table == Table::Small || facts.cast.is_some())
}

#[test]
fn a_watched_directory_covers_what_is_below_it_however_reached() {
    const NAME: &str = "file_open_directory";
    if !is_root() {
        return skip(NAME, "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    for table in Table::BOTH {
        below_a_watched_directory(NAME, table);
    }
}

fn below_a_watched_directory(name: &str, table: Table) {
    eprintln!("{name}: opening from processes with a {table:?} descriptor table");
    let dir = WatchDir::create("dir");
    let root = dir.0.display().to_string();
    std::fs::create_dir_all(dir.0.join("keys/deeper")).unwrap();
    std::fs::write(dir.0.join("keys/deeper/id_rsa"), b"k").unwrap();
    let other = WatchDir::create("dir-other");
    let bind = other.0.display().to_string();
    let mut source = Attached::start(config(vec![format!("{root}/keys/")]));
    std::fs::write(dir.0.join("keys/warmup"), b"").unwrap();
    source.warm_up(&dir.0.join("keys/warmup"));

    let fresh = support::FreshCgroup::enter(name).expect("a cgroup2 child for the test");
    sh_in(
        table,
        &format!("cd {root}/keys/deeper && cat ./id_rsa >/dev/null"),
    );
    sh_in(table, &format!("cat {root}/keys/missing 2>/dev/null; true"));
    // Through a bind mount in a private mount namespace: below the watched directory
    // whatever the path.
    sh_in(
        table,
        &format!(
            "unshare -m --propagation private sh -c 'mount -o bind {root}/keys {bind} && \
         cat {bind}/deeper/id_rsa >/dev/null'"
        ),
    );
    // Below it across a filesystem mounted there (a tmpfs, as the service-account token
    // under /var/run/secrets/): the walk crosses from the tmpfs's root to where it is
    // mounted (through BTF pointers to that root, probing reads from there).
    sh_in(
        table,
        &format!(
            "unshare -m --propagation private sh -c 'mount -t tmpfs none {root}/keys/deeper && \
             echo k > {root}/keys/deeper/token && cat {root}/keys/deeper/token >/dev/null'"
        ),
    );
    // Not below it: a sibling directory.
    std::fs::write(dir.0.join("sibling"), b"").unwrap();
    sh_in(table, &format!("cat {root}/sibling >/dev/null"));
    let cgroup = fresh.id;
    drop(fresh);

    let events = collect(source, name, 4, |e| {
        e.cgroup_id == cgroup && e.comm == "cat"
    });
    let s = |t: &str| t.to_string();
    assert_eq!(
        rows(&events),
        vec![
            (
                s("./id_rsa"),
                format!("{root}/keys/deeper/id_rsa"),
                s("directory"),
                0
            ),
            (
                format!("{root}/keys/missing"),
                format!("{root}/keys/missing"),
                s("path"),
                libc::ENOENT
            ),
            (
                format!("{bind}/deeper/id_rsa"),
                format!("{bind}/deeper/id_rsa"),
                s("directory"),
                0
            ),
            (
                format!("{root}/keys/deeper/token"),
                format!("{root}/keys/deeper/token"),
                s("directory"),
                0
            ),
        ]
    );
    assert!(events
        .iter()
        .all(|e| e.watched_path == format!("{root}/keys/")));
}

#[test]
fn replaced_and_new_watched_files_are_followed() {
    const NAME: &str = "file_open_follow";
    if !is_root() {
        return skip(NAME, "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = WatchDir::create("follow");
    let root = dir.0.display().to_string();
    let (watched, later) = (format!("{root}/passwd"), format!("{root}/later"));
    std::fs::write(&watched, b"v1").unwrap();
    let mut source = Attached::start(config(vec![watched.clone(), later.clone()]));
    source.warm_up(Path::new(&watched));

    let fresh = support::FreshCgroup::enter(NAME).expect("a cgroup2 child for the test");
    // An editor's save: a new inode renamed over the watched name, read at once (by name
    // in its directory, or by inode if the agent was quicker) and again once the agent has
    // followed it (by inode, through a hard link so that the name cannot match).
    sh(&format!(
        "echo v2 > {root}/passwd.tmp && mv {root}/passwd.tmp {watched} && cat {watched} >/dev/null"
    ));
    std::thread::sleep(Duration::from_millis(300));
    sh(&format!(
        "ln {watched} {root}/alias && cat {root}/alias >/dev/null"
    ));
    // Created after start, by a create that is itself reported.
    sh(&format!(
        "echo new > {later} && sleep 0.3 && cat {later} >/dev/null"
    ));
    let cgroup = fresh.id;
    drop(fresh);

    // mv probes its target (an O_PATH|O_DIRECTORY open, ENOTDIR): a real failed open of
    // the watched path, reported, but not what this test is about.
    let events = collect(source, NAME, 4, |e| e.cgroup_id == cgroup && e.comm != "mv");
    let mut got: Vec<(String, String, Vec<String>)> = events
        .iter()
        .map(|e| (e.path.clone(), e.matched.clone(), e.access.clone()))
        .collect();
    let s = |t: &str| t.to_string();
    // The read right after the rename matches by name, unless the agent has followed the
    // new inode already (inotify, ~20 ms): either way it is reported. (The create of
    // `later` below is always matched by name.)
    if let Some(first) = got.first_mut().filter(|g| g.1 == "inode") {
        first.1 = s("name");
    }
    let read = vec![s("read")];
    let create = vec![s("write"), s("create"), s("truncate")];
    assert_eq!(
        got,
        vec![
            (watched.clone(), s("name"), read.clone()),
            (format!("{root}/alias"), s("inode"), read.clone()),
            (later.clone(), s("name"), create),
            (later.clone(), s("inode"), read),
        ]
    );
}

#[test]
fn a_watched_path_is_resolved_in_another_mount_namespace() {
    const NAME: &str = "file_open_namespace";
    if !is_root() {
        return skip(NAME, "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let dir = WatchDir::create("ns");
    let root = dir.0.display().to_string();
    let secret = format!("{root}/etc/secret");
    std::fs::create_dir_all(dir.0.join("etc")).unwrap();
    std::fs::write(&secret, b"host").unwrap();
    let mut source = Attached::start(config(vec![secret.clone()]));
    source.warm_up(Path::new(&secret));

    let fresh = support::FreshCgroup::enter(NAME).expect("a cgroup2 child for the test");
    // A container-like namespace: its own filesystem over the watched directory, a file
    // of its own at the watched path, read once the agent had a pass to find it (and by
    // a hard link, so the name cannot match: only the namespace's resolution can).
    sh(&format!(
        "unshare -m --propagation private sh -c 'mount -t tmpfs none {root}/etc && \
         echo ns > {secret} && ln {secret} {root}/etc/alias && sleep 0.6 && \
         cat {root}/etc/alias >/dev/null'"
    ));
    let cgroup = fresh.id;
    drop(fresh);

    let events = collect(source, NAME, 1, |e| {
        e.cgroup_id == cgroup && e.comm == "cat"
    });
    let s = |t: &str| t.to_string();
    assert_eq!(
        rows(&events),
        vec![(
            format!("{root}/etc/alias"),
            format!("{root}/etc/alias"),
            s("inode"),
            0
        )]
    );
    let host_inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&secret).unwrap());
    assert_ne!(
        events[0].inode, host_inode,
        "the namespace's own file, not the host's"
    );
}
