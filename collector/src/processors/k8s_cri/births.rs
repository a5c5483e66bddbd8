//! Container cgroups as they are born: an inotify watch on the unified hierarchy's
//! container subtrees (`kubepods*`, `k8s.io`) reports each new directory whose name
//! carries a container id, with its cgroup id (the inode), the moment the runtime creates
//! it. A container that exits within milliseconds has its cgroup directory removed before
//! any event of it reaches the processor; this is how its cgroup id still maps to it.
//!
//! The directory's name is the proof (as for the runtime's cgroupsPath): a directory
//! whose last component does not name a container is never reported.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;

use crate::processors::k8s_cri::cgroup::container_id_in_path;

/// Top-level directories of the unified hierarchy under which runtimes put containers:
/// kubelet's `kubepods` (cgroupfs) and `kubepods.slice` (systemd), containerd's default
/// `k8s.io` namespace.
const CONTAINER_SUBTREES: &[&str] = &["kubepods", "k8s.io"];
/// Most directories watched; beyond it new subtrees are not followed (logged once).
const MAX_WATCHES: usize = 16_384;
/// How often the thread checks whether it should stop.
const POLL_MS: i32 = 200;

/// A born container cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Birth {
    /// The container id its directory names.
    pub container_id: String,
    /// Its cgroup v2 id.
    pub cgroup_id: u64,
}

/// Most births remembered; the oldest are forgotten first (cgroup ids are never reused,
/// so an entry never turns wrong, it only ages out).
const MAX_BORN: usize = 65_536;

/// The container cgroups born since the watch started, for the event path to consult on
/// a cache miss: cgroup id -> container id.
#[derive(Debug, Default)]
pub struct BornCgroups(RwLock<(HashMap<u64, String>, VecDeque<u64>)>);

impl BornCgroups {
    /// Records `birth`.
    pub fn insert(&self, birth: &Birth) {
        let Ok(mut guard) = self.0.write() else {
            return;
        };
        let (by_cgroup, order) = &mut *guard;
        if by_cgroup
            .insert(birth.cgroup_id, birth.container_id.clone())
            .is_none()
        {
            order.push_back(birth.cgroup_id);
        }
        while order.len() > MAX_BORN {
            if let Some(oldest) = order.pop_front() {
                by_cgroup.remove(&oldest);
            }
        }
    }

    /// The container whose cgroup `cgroup_id` is, if it was born while watched.
    pub fn container_of(&self, cgroup_id: u64) -> Option<String> {
        self.0.read().ok()?.0.get(&cgroup_id).cloned()
    }
}

/// The watching thread; stops when dropped.
pub struct BirthWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BirthWatch {
    /// Watches the unified hierarchy mounted at `root`, reporting every container cgroup
    /// that exists now and every one created later to `report` (which must not block).
    pub fn start(root: PathBuf, report: impl FnMut(Birth) + Send + 'static) -> io::Result<Self> {
        let inotify = Inotify::new()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("kotel-cgroup-births".into())
            .spawn(move || Watcher::new(root, inotify, report).run(&stopping))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for BirthWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's state: watch descriptors and the directories they stand for.
struct Watcher<R> {
    root: PathBuf,
    inotify: Inotify,
    watched: HashMap<i32, PathBuf>,
    /// Directories already followed: a directory can be seen twice, once by a scan and
    /// once by its creation event, and is reported once.
    followed: HashSet<PathBuf>,
    report: R,
    warned_full: bool,
}

impl<R: FnMut(Birth)> Watcher<R> {
    fn new(root: PathBuf, inotify: Inotify, report: R) -> Self {
        Self {
            root,
            inotify,
            watched: HashMap::new(),
            followed: HashSet::new(),
            report,
            warned_full: false,
        }
    }

    fn run(mut self, stop: &AtomicBool) {
        let root = self.root.clone();
        if self.watch(&root).is_err() {
            tracing::warn!(root = %root.display(), "cannot watch the cgroup hierarchy; very short-lived containers may go unattributed");
            return;
        }
        for entry in read_dirs(&root) {
            if is_container_subtree(&entry) {
                self.follow(&entry);
            }
        }
        while !stop.load(Ordering::Relaxed) {
            match self.inotify.read(POLL_MS) {
                Ok(changes) => {
                    for change in changes {
                        match change {
                            Change::Created(wd, name) => self.created(wd, &name),
                            Change::Gone(wd) => self.gone(wd),
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cgroup watch failed; very short-lived containers may go unattributed");
                    return;
                }
            }
        }
    }

    /// A directory `name` appeared in the directory of watch `wd`.
    fn created(&mut self, wd: i32, name: &std::ffi::OsStr) {
        let Some(parent) = self.watched.get(&wd).cloned() else {
            return;
        };
        let dir = parent.join(name);
        if parent == self.root && !is_container_subtree(&dir) {
            return;
        }
        self.follow(&dir);
    }

    /// The directory of watch `wd` was removed (the kernel dropped the watch).
    fn gone(&mut self, wd: i32) {
        if let Some(dir) = self.watched.remove(&wd) {
            self.followed.remove(&dir);
        }
    }

    /// Reports `dir` if it is a container cgroup and watches it and everything below;
    /// once per directory.
    fn follow(&mut self, dir: &Path) {
        if !self.followed.insert(dir.to_path_buf()) {
            return;
        }
        if let Some(birth) = self.birth(dir) {
            (self.report)(birth);
        }
        if self.watch(dir).is_err() {
            return;
        }
        // Children created before the watch was in place.
        for child in read_dirs(dir) {
            self.follow(&child);
        }
    }

    fn birth(&self, dir: &Path) -> Option<Birth> {
        let relative = dir.strip_prefix(&self.root).ok()?;
        let path = format!("/{}", relative.to_str()?);
        let container_id = container_id_in_path(&path)?.to_string();
        let cgroup_id = std::fs::metadata(dir).ok()?.ino();
        Some(Birth {
            container_id,
            cgroup_id,
        })
    }

    fn watch(&mut self, dir: &Path) -> io::Result<()> {
        if self.watched.len() >= MAX_WATCHES {
            if !self.warned_full {
                tracing::warn!(
                    limit = MAX_WATCHES,
                    "watching too many cgroup directories; new ones are not followed"
                );
                self.warned_full = true;
            }
            return Err(io::Error::other("watch limit"));
        }
        let wd = self.inotify.add(dir)?;
        self.watched.insert(wd, dir.to_path_buf());
        Ok(())
    }
}

fn is_container_subtree(dir: &Path) -> bool {
    dir.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|name| CONTAINER_SUBTREES.iter().any(|p| name.starts_with(p)))
}

/// The subdirectories of `dir` (none if it cannot be read).
fn read_dirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// A minimal inotify handle: directory creations only.
struct Inotify(i32);

impl Inotify {
    fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; the descriptor is owned by the returned value.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(fd))
    }

    fn add(&self, dir: &Path) -> io::Result<i32> {
        let path = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mask = libc::IN_CREATE | libc::IN_ONLYDIR;
        // SAFETY: `path` is a valid C string for the duration of the call.
        let wd = unsafe { libc::inotify_add_watch(self.0, path.as_ptr(), mask) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(wd)
    }

    /// Waits up to `timeout_ms` and returns the directories created and the watches
    /// the kernel dropped.
    fn read(&self, timeout_ms: i32) -> io::Result<Vec<Change>> {
        let mut poll = libc::pollfd {
            fd: self.0,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, timeout_ms) };
        if ready <= 0 {
            return Ok(Vec::new());
        }
        let mut buffer = [0u8; 16 * 1024];
        // SAFETY: the buffer is valid for its length.
        let n = unsafe { libc::read(self.0, buffer.as_mut_ptr().cast(), buffer.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(Vec::new()),
                _ => Err(e),
            };
        }
        Ok(parse_events(&buffer[..n as usize]))
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned and closed once.
        unsafe { libc::close(self.0) };
    }
}

/// What one inotify record says.
#[derive(Debug, PartialEq, Eq)]
enum Change {
    /// A directory `name` was created in the directory of watch `wd`.
    Created(i32, std::ffi::OsString),
    /// Watch `wd` is gone (its directory was removed).
    Gone(i32),
}

/// The records of a buffer of `struct inotify_event`s that matter here.
fn parse_events(buffer: &[u8]) -> Vec<Change> {
    const HEADER: usize = 16;
    let mut out = Vec::new();
    let mut at = 0;
    while at + HEADER <= buffer.len() {
        let word = |i: usize| u32::from_ne_bytes(buffer[at + i..at + i + 4].try_into().unwrap());
        let (wd, mask, len) = (word(0) as i32, word(4), word(12) as usize);
        let end = (at + HEADER + len).min(buffer.len());
        let name = &buffer[at + HEADER..end];
        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
        if mask & libc::IN_CREATE != 0 && mask & libc::IN_ISDIR != 0 {
            let name = std::ffi::OsStr::from_bytes(name).to_os_string();
            out.push(Change::Created(wd, name));
        } else if mask & libc::IN_IGNORED != 0 {
            out.push(Change::Gone(wd));
        }
        at += HEADER + len;
    }
    out
}

#[cfg(test)]
#[path = "births_tests.rs"]
mod tests;
