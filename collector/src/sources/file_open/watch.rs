//! Watched paths resolved to the inodes the kernel matches: in one filesystem root (the
//! host's, or a container's through `/proc/<pid>/root`), each watched path names a file, a
//! directory, or nothing yet.
//!
//! Contract: [`resolve_in_root`] never follows a symlink out of the root it resolves in
//! (`openat2` with `RESOLVE_IN_ROOT`, so a container's absolute symlinks stay in the
//! container) and never fails as a whole: a path that does not exist yields only the entries
//! that catch its creation (its directory as [`kind::PARENT`] and its name), and every
//! other failure is returned as a [`Problem`] next to what did resolve.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use kotel_common::file_open::{kind, name_length_bit, NameKey, Watch, NAME_KEY_BYTES};
use kotel_common::vfs::{kernel_dev, InodeKey};

/// `RESOLVE_IN_ROOT` of `openat2(2)` (Linux 5.6+).
const RESOLVE_IN_ROOT: u64 = 0x10;

/// One watched path of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedPath {
    /// Its index in `paths` (the value the kernel reports).
    pub index: u32,
    /// The path as configured, without a trailing `/` (except `/` itself).
    pub path: String,
}

impl WatchedPath {
    /// The configured paths, in order.
    pub fn all(paths: &[String]) -> Vec<WatchedPath> {
        paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let trimmed = p.trim_end_matches('/');
                WatchedPath {
                    index: i as u32,
                    path: if trimmed.is_empty() { "/" } else { trimmed }.to_string(),
                }
            })
            .collect()
    }

    /// The directory holding the path and the path's last component (`None` for `/`).
    pub fn split(&self) -> Option<(&str, &str)> {
        let (dir, name) = self.path.rsplit_once('/')?;
        (!name.is_empty()).then_some((if dir.is_empty() { "/" } else { dir }, name))
    }
}

/// The kernel map entries of a set of resolved paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchSet {
    /// Watched inodes.
    pub inodes: BTreeMap<InodeKey, Watch>,
    /// Watched files' names in their directories -> index.
    pub names: BTreeMap<NameKey, u32>,
    /// `name_length_bit` of every watched directory's dentry name: the kernel reads the
    /// inode of a directory above an opened file only when its name's length is here.
    pub dir_name_lengths: u64,
    /// The same for the directories holding watched files (read as an opened file's own
    /// directory only when its name's length is here).
    pub parent_name_lengths: u64,
}

impl WatchSet {
    /// Adds `kinds` (and, for a file or a directory, the watched path's index) to `key`.
    fn add(&mut self, key: InodeKey, kinds: u32, index: u32) {
        let w = self.inodes.entry(key).or_default();
        if kinds & (kind::FILE | kind::DIRECTORY) != 0
            && w.kinds & (kind::FILE | kind::DIRECTORY) == 0
        {
            w.index = index;
        }
        w.kinds |= kinds;
    }

    /// Merges `other` into `self`.
    pub fn merge(&mut self, other: WatchSet) {
        for (key, w) in other.inodes {
            self.add(key, w.kinds, w.index);
        }
        self.names.extend(other.names);
        self.dir_name_lengths |= other.dir_name_lengths;
        self.parent_name_lengths |= other.parent_name_lengths;
    }
}

/// Why part of a watched path could not be resolved in a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Stable snake_case reason (`no_access`, `error`), the label of the counter.
    pub reason: &'static str,
    /// What failed, for the log.
    pub detail: String,
}

/// The identity of the file open at `fd` as the kernel sees it, and whether it is a
/// directory; `fd` is handed back.
fn identity(fd: OwnedFd) -> std::io::Result<(OwnedFd, InodeKey, bool)> {
    // SAFETY: `fd` is open; `st` is written by fstat before it is read.
    let st = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut st) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        st
    };
    let key = InodeKey {
        dev: kernel_dev(libc::major(st.st_dev), libc::minor(st.st_dev)),
        _pad: 0,
        ino: st.st_ino,
    };
    Ok((fd, key, st.st_mode & libc::S_IFMT == libc::S_IFDIR))
}

/// `STATX_ATTR_MOUNT_ROOT` (Linux 5.8+).
const STATX_ATTR_MOUNT_ROOT: u64 = 0x2000;
/// `STATX_MNT_ID` (Linux 5.8+).
const STATX_MNT_ID: u32 = 0x1000;

/// Whether the file open at `fd` is the root of a mount, and that mount's id; `None` when
/// the kernel cannot say.
fn mount_of(fd: &OwnedFd) -> Option<(bool, u64)> {
    // SAFETY: an empty path with AT_EMPTY_PATH stats `fd` itself; `stx` is written by the
    // call before it is read.
    let stx = unsafe {
        let mut stx: libc::statx = std::mem::zeroed();
        let rc = libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            STATX_MNT_ID,
            &mut stx,
        );
        (rc == 0).then_some(stx)?
    };
    let known =
        stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT != 0 && stx.stx_mask & STATX_MNT_ID != 0;
    known.then_some((
        stx.stx_attributes & STATX_ATTR_MOUNT_ROOT != 0,
        stx.stx_mnt_id,
    ))
}

/// The length of the last component of `mountinfo`'s root field (the fourth) for mount
/// `id`: 1 (`/`) for a filesystem mounted whole.
pub fn mount_root_name_len(mountinfo: &str, id: u64) -> Option<usize> {
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').next() == Some(id.to_string().as_str()))?;
    let root = line.split(' ').nth(3)?;
    if root == "/" {
        return Some(1);
    }
    let last = root.rsplit('/').next()?;
    // Octal escapes (`\040` for a space) stand for one byte each.
    Some(last.len() - 3 * last.matches('\\').count())
}

/// The name-length bit of the directory open at `fd` as the kernel's walk sees its dentry:
/// the last component of its path, or, for a mount's root, of the filesystem directory
/// the mount shows (`mountinfo`'s root field of the namespace it was resolved in: `/`
/// for a whole filesystem). Every bit when that cannot be told, so that no length is ever
/// skipped wrongly.
fn dentry_name_bits(fd: &OwnedFd, mountinfo: &str) -> u64 {
    let len = match mount_of(fd) {
        Some((false, _)) => {
            let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            link.ok()
                .as_deref()
                .and_then(Path::file_name)
                .map(|n| n.len())
        }
        Some((true, id)) => mount_root_name_len(mountinfo, id),
        None => None,
    };
    len.map_or(u64::MAX, |n| name_length_bit(n as u32))
}

/// Opens `path` (absolute, as seen inside the root) below `root` with `O_PATH`, resolving
/// symlinks and `..` inside the root.
pub(super) fn open_in_root(root: &OwnedFd, path: &str) -> std::io::Result<OwnedFd> {
    let rel = CString::new(path.trim_start_matches('/').as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let rel = if rel.as_bytes().is_empty() {
        CString::new(".").expect("no NUL")
    } else {
        rel
    };
    // struct open_how { u64 flags; u64 mode; u64 resolve; }
    let how: [u64; 3] = [(libc::O_PATH | libc::O_CLOEXEC) as u64, 0, RESOLVE_IN_ROOT];
    // SAFETY: valid NUL-terminated path and open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            rel.as_ptr(),
            how.as_ptr(),
            std::mem::size_of_val(&how),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Opens a root directory (`/`, or `/proc/<pid>/root`).
pub fn open_root(root: &Path) -> std::io::Result<OwnedFd> {
    let c = CString::new(root.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: valid NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn problem(root: &str, path: &str, e: &std::io::Error) -> Problem {
    let reason = match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => "no_access",
        _ => "error",
    };
    Problem {
        reason,
        detail: format!("{path} in {root}: {e}"),
    }
}

fn missing(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

/// The entries of every watched path in the root open at `root` (named `label` in
/// problems); `mountinfo` is that root's namespace's `/proc/<pid>/mountinfo`.
pub fn resolve_in_root(
    root: &OwnedFd,
    label: &str,
    paths: &[WatchedPath],
    mountinfo: &str,
) -> (WatchSet, Vec<Problem>) {
    let mut set = WatchSet::default();
    let mut problems = Vec::new();
    for w in paths {
        match open_in_root(root, &w.path).and_then(identity) {
            Ok((fd, key, true)) => {
                set.add(key, kind::DIRECTORY, w.index);
                set.dir_name_lengths |= dentry_name_bits(&fd, mountinfo);
            }
            Ok((_, key, false)) => set.add(key, kind::FILE, w.index),
            Err(e) if missing(&e) => {}
            Err(e) => problems.push(problem(label, &w.path, &e)),
        }
        // The directory holding the path: a file created or renamed there under the
        // watched name matches by name before the next resolution.
        let Some((dir, name)) = w.split() else {
            continue;
        };
        match open_in_root(root, dir).and_then(identity) {
            Ok((fd, key, true)) => {
                set.add(key, kind::PARENT, w.index);
                set.parent_name_lengths |= dentry_name_bits(&fd, mountinfo);
                if name.len() < NAME_KEY_BYTES {
                    let mut bytes = [0u8; NAME_KEY_BYTES];
                    bytes[..name.len()].copy_from_slice(name.as_bytes());
                    let nk = NameKey {
                        dir: key,
                        name: bytes,
                    };
                    set.names.insert(nk, w.index);
                }
            }
            Ok((_, _, false)) => {}
            Err(e) if missing(&e) => {}
            Err(e) => problems.push(problem(label, dir, &e)),
        }
    }
    (set, problems)
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
