//! Keeps the watched inodes current: resolves every watched path in every mount namespace
//! ([`namespaces::roots`]) on a schedule (`rescan_interval`) and, within
//! [`SETTLE`], after a change to a watched name (inotify on the directory holding each
//! watched path, in every root: a file created, renamed over, moved away or deleted).
//!
//! Contract: [`Follower::resolve`] is one full pass (also the one before the programs
//! attach); [`Follower::spawn`] runs passes on a thread until the returned handle is
//! stopped. Problems are counted (`kotel.source.file_open.resolve_errors{reason}`); the
//! first of each reason is logged as a warning, the rest at debug level.

use std::collections::{BTreeSet, HashMap};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kotel_common::file_open::kind;

use super::namespaces;
use super::watch::{open_root, resolve_in_root, Problem, WatchSet, WatchedPath};
use super::watch_maps::WatchMaps;

/// Gauge: watched inodes in the kernel maps. Labels: `source`, `kind` (`file`,
/// `directory`, `parent`).
pub const WATCHED_INODES: &str = "kotel.source.file_open.watched_inodes";
/// Gauge: mount namespaces the watched paths are resolved in. Label: `source`.
pub const MOUNT_NAMESPACES: &str = "kotel.source.file_open.mount_namespaces";
/// Counter: resolution passes. Labels: `source`, `trigger` (`start`, `schedule`,
/// `change`).
pub const RESOLUTIONS: &str = "kotel.source.file_open.resolutions";
/// Counter: parts of watched paths that could not be resolved. Labels: `source`,
/// `reason` (`no_access`, `error`, `map_full`).
pub const RESOLVE_ERRORS: &str = "kotel.source.file_open.resolve_errors";

/// How long a pass waits after a change for more changes (one pass for a burst).
pub const SETTLE: Duration = Duration::from_millis(20);

/// Why a pass runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Before the programs attach.
    Start,
    /// `rescan_interval` passed.
    Schedule,
    /// inotify saw a watched name change.
    Change,
}

impl Trigger {
    fn name(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::Schedule => "schedule",
            Trigger::Change => "change",
        }
    }
}

/// inotify on the directories holding watched paths: descriptor -> the watched names in it.
struct Changes {
    fd: OwnedFd,
    names: HashMap<i32, BTreeSet<Vec<u8>>>,
}

/// The events that mean a watched name changed in a directory, or the directory itself.
const MASK: u32 = libc::IN_CREATE
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_DELETE
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF;

impl Changes {
    fn new() -> Option<Self> {
        // SAFETY: no pointers; the result is checked.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        Some(Self {
            // SAFETY: a descriptor the kernel just returned, owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            names: HashMap::new(),
        })
    }

    /// Watches the directory open at `dir` (an `O_PATH` descriptor) for `name`.
    fn add(&mut self, dir: &OwnedFd, name: &str) {
        let Ok(path) = CString::new(format!("/proc/self/fd/{}", dir.as_raw_fd())) else {
            return;
        };
        // SAFETY: valid NUL-terminated path; the result is checked.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), path.as_ptr(), MASK) };
        if wd >= 0 {
            self.names
                .entry(wd)
                .or_default()
                .insert(name.as_bytes().to_vec());
        }
    }

    /// Whether any queued event concerns a watched name (drains the queue).
    fn drain(&self) -> bool {
        let mut buf = [0u8; 4096];
        let mut relevant = false;
        loop {
            // SAFETY: reads into a buffer of the size passed.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return relevant;
            }
            let mut at = 0usize;
            let header = std::mem::size_of::<libc::inotify_event>();
            while at + header <= n as usize {
                // SAFETY: a whole event header lies at `at` (read_unaligned: no alignment).
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
                let name_bytes = &buf[at + header..(at + header + ev.len as usize).min(n as usize)];
                let end = name_bytes
                    .iter()
                    .position(|&b| b == 0)
                    .unwrap_or(name_bytes.len());
                let name = &name_bytes[..end];
                let selfish = ev.mask
                    & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_Q_OVERFLOW)
                    != 0;
                if selfish
                    || self
                        .names
                        .get(&ev.wd)
                        .is_some_and(|names| names.contains(name))
                {
                    relevant = true;
                }
                at += header + ev.len as usize;
            }
        }
    }

    /// Waits up to `timeout` for the descriptor to become readable.
    fn wait(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
    }
}

/// Resolves the watched paths and writes them to the kernel maps.
pub struct Follower {
    source: String,
    paths: Vec<WatchedPath>,
    proc: PathBuf,
    maps: WatchMaps,
    changes: Option<Changes>,
    logged: BTreeSet<String>,
}

/// Stops a spawned follower when dropped (and waits for it).
pub struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Follower {
    /// A follower of `paths` resolving through `proc` (`<host_root>/proc`) into `maps`.
    pub fn new(source: &str, paths: &[String], proc: PathBuf, maps: WatchMaps) -> Self {
        Self {
            source: source.to_string(),
            paths: WatchedPath::all(paths),
            proc,
            maps,
            changes: None,
            logged: BTreeSet::new(),
        }
    }

    fn problem(&mut self, p: &Problem) {
        metrics::counter!(RESOLVE_ERRORS, "source" => self.source.clone(), "reason" => p.reason)
            .increment(1);
        if self.logged.insert(p.reason.to_string()) {
            tracing::warn!(
                component = %self.source,
                "file_open source: cannot resolve {} (later `{}` problems are only counted: \
                 {RESOLVE_ERRORS})",
                p.detail,
                p.reason
            );
        } else {
            tracing::debug!(component = %self.source, "file_open source: cannot resolve {}", p.detail);
        }
    }

    /// One full pass: every root, every watched path; the maps then hold the result and
    /// inotify watches the directories it found.
    pub fn resolve(&mut self, trigger: Trigger) {
        let started = Instant::now();
        let roots = namespaces::roots(&self.proc);
        let mut changes = Changes::new();
        let mut set = WatchSet::default();
        let mut problems = Vec::new();
        for root in &roots {
            let Ok(fd) = open_root(&root.path) else {
                continue; // the process exited, or its root is not ours to see
            };
            // Watch first, then resolve: a change after this point triggers another pass.
            if let Some(c) = changes.as_mut() {
                for w in &self.paths {
                    if let Some((dir, name)) = w.split() {
                        if let Ok(d) = super::watch::open_in_root(&fd, dir) {
                            c.add(&d, name);
                        }
                    }
                }
            }
            let label = root.path.display().to_string();
            let mountinfo =
                std::fs::read_to_string(root.path.with_file_name("mountinfo")).unwrap_or_default();
            let (found, trouble) = resolve_in_root(&fd, &label, &self.paths, &mountinfo);
            set.merge(found);
            problems.extend(trouble);
        }
        for p in &problems {
            self.problem(p);
        }
        match self.maps.apply(set) {
            Ok(applied) => {
                for _ in 0..applied.full {
                    self.problem(&Problem {
                        reason: "map_full",
                        detail: "watched inodes beyond the kernel map's capacity".into(),
                    });
                }
                if applied.written + applied.removed > 0 {
                    tracing::debug!(component = %self.source, ?applied, ?trigger, "watched inodes updated");
                }
            }
            Err(e) => self.problem(&Problem {
                reason: "error",
                detail: e,
            }),
        }
        if changes.is_some() {
            self.changes = changes;
        }
        let source = self.source.clone();
        metrics::counter!(RESOLUTIONS, "source" => source.clone(), "trigger" => trigger.name())
            .increment(1);
        metrics::gauge!(MOUNT_NAMESPACES, "source" => source.clone()).set(roots.len() as f64);
        for (name, bit) in [
            ("file", kind::FILE),
            ("directory", kind::DIRECTORY),
            ("parent", kind::PARENT),
        ] {
            let n = self
                .maps
                .current()
                .inodes
                .values()
                .filter(|w| w.kinds & bit != 0)
                .count();
            metrics::gauge!(WATCHED_INODES, "source" => source.clone(), "kind" => name)
                .set(n as f64);
        }
        tracing::trace!(component = %self.source, elapsed = ?started.elapsed(), "resolution pass");
    }

    /// Runs passes on a thread: every `interval`, and [`SETTLE`] after a watched name
    /// changes, until the handle is dropped.
    pub fn spawn(mut self, interval: Duration) -> Running {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kotel-file-watch".into())
            .spawn(move || {
                let mut next = Instant::now() + interval;
                while !flag.load(Ordering::Relaxed) {
                    let slice = Duration::from_millis(100)
                        .min(next.saturating_duration_since(Instant::now()));
                    let changed = match &self.changes {
                        Some(c) => c.wait(slice) && c.drain(),
                        None => {
                            std::thread::sleep(slice);
                            false
                        }
                    };
                    if changed {
                        std::thread::sleep(SETTLE);
                        if let Some(c) = &self.changes {
                            c.drain();
                        }
                        self.resolve(Trigger::Change);
                        next = Instant::now() + interval;
                    } else if Instant::now() >= next {
                        self.resolve(Trigger::Schedule);
                        next = Instant::now() + interval;
                    }
                }
            })
            .expect("spawning the file_open watch thread");
        Running {
            stop,
            thread: Some(thread),
        }
    }
}
