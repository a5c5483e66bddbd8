//! The node's cgroup hierarchies: where they are mounted ([`CgroupRoots`]), which
//! layout that is, where the cgroup2 root is ([`cgroup2_root`]) and a directory's cgroup
//! id ([`cgroup_id`]).
//!
//! Kernel events carry `bpf_get_current_cgroup_id()`, the inode number of the process's
//! directory in the cgroup v2 (unified) hierarchy. In a container with its own cgroup
//! namespace the mount table lists the container's `/sys/fs/cgroup`, which shows only the
//! container's subtree; a DaemonSet mounts the host's hierarchy elsewhere (e.g.
//! `/host/sys/fs/cgroup`), and that is the one to use. The hierarchy's real root is
//! recognised by what it lacks: every cgroup but the root has a `cgroup.type` file.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::node::mounts::{self, Mount};

/// v1 controllers to look in, best first (`pids` and `memory` are nearly always there).
pub const V1_PREFERENCE: [&str; 4] = ["pids", "memory", "cpu", "name=systemd"];

/// One mounted cgroup hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted, as seen from this process (octal escapes decoded).
    pub mount_point: PathBuf,
    /// The hierarchy directory mounted there: `/` for the whole hierarchy.
    pub root: String,
    /// v1 controllers (`memory`, `cpu`, `cpuacct`, `name=systemd`); empty for cgroup2.
    pub controllers: Vec<String>,
}

impl CgroupMount {
    fn new(mount_point: PathBuf, root: &str, controllers: Vec<String>) -> Self {
        let root = root.to_string();
        CgroupMount {
            mount_point,
            root,
            controllers,
        }
    }

    /// The directory of hierarchy path `path` (absolute within the hierarchy, e.g.
    /// `/k8s.io/<id>`) under this mount. None if `path` has a `..` component or lies
    /// outside the mounted subtree [`root`](Self::root).
    pub fn dir(&self, path: &str) -> Option<PathBuf> {
        let parts = components(path)?;
        let root = components(&self.root)?;
        let rest = parts.strip_prefix(root.as_slice())?;
        Some(rest.iter().fold(self.mount_point.clone(), |d, c| d.join(c)))
    }

    fn has_controller(&self, name: &str) -> bool {
        self.controllers.iter().any(|c| c == name)
    }
}

/// Which cgroup hierarchies are mounted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupLayout {
    /// cgroup v2 only.
    Unified,
    /// cgroup v1 controller hierarchies plus a cgroup2 mount (often `.../unified`).
    Hybrid,
    /// cgroup v1 only: cgroup ids from the kernel cannot be mapped to directories.
    Legacy,
    /// No cgroup filesystem mounted.
    None,
}

/// Where the cgroup hierarchies are mounted, as seen from this process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupRoots {
    /// The cgroup2 mount, the one whose root is `/` when there are several.
    pub unified: Option<CgroupMount>,
    /// cgroup v1 hierarchies, one per controller set, in mountinfo order.
    pub v1: Vec<CgroupMount>,
}

impl CgroupRoots {
    /// Parses `/proc/self/mountinfo` text. Unparsable lines are skipped. When a
    /// hierarchy is mounted several times, a mount of its root (`/`) wins, then the
    /// first one listed.
    pub fn from_mountinfo(text: &str) -> CgroupRoots {
        Self::from_mountinfo_preferring(text, |_| false)
    }

    /// [`Self::from_mountinfo`], except that a cgroup2 mount for which `shows_root`
    /// holds wins over every other. In a container with its own cgroup namespace the
    /// namespace's view is listed with root `/` too; the host's hierarchy mounted
    /// elsewhere (a DaemonSet's `/host/sys/fs/cgroup`) is the one to use.
    pub fn from_mountinfo_preferring(
        text: &str,
        shows_root: impl Fn(&Path) -> bool,
    ) -> CgroupRoots {
        let mut mounts: Vec<(bool, bool, CgroupMount)> = mounts::parse(text)
            .into_iter()
            .filter_map(cgroup_mount)
            .map(|(is_v2, mut m)| {
                let host_view = is_v2 && shows_root(&m.mount_point);
                if host_view {
                    // Mountinfo shows its root relative to our namespace (`/../..`).
                    m.root = "/".into();
                }
                (is_v2, host_view, m)
            })
            .collect();
        // Stable: mounts that show the hierarchy's root first, then whole-hierarchy
        // mounts, otherwise mountinfo order.
        mounts.sort_by_key(|(_, host_view, m)| (!host_view, m.root != "/"));
        let mut roots = CgroupRoots::default();
        for (is_v2, _, m) in mounts {
            if is_v2 {
                roots.unified.get_or_insert(m);
            } else if !roots.v1.iter().any(|o| o.controllers == m.controllers) {
                roots.v1.push(m);
            }
        }
        roots
    }

    /// Reads `/proc/self/mountinfo`, preferring the cgroup2 mount that shows the
    /// hierarchy's root ([`is_hierarchy_root`]).
    pub fn discover() -> io::Result<CgroupRoots> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")?;
        Ok(Self::from_mountinfo_preferring(&text, is_hierarchy_root))
    }

    /// A cgroup2 hierarchy mounted (whole) at `path` and nothing else: an override from
    /// configuration, e.g. `/host/sys/fs/cgroup` in a DaemonSet.
    pub fn with_unified(path: impl Into<PathBuf>) -> CgroupRoots {
        let unified = CgroupMount::new(path.into(), "/", Vec::new());
        CgroupRoots {
            unified: Some(unified),
            v1: Vec::new(),
        }
    }

    /// Which hierarchies are mounted.
    pub fn layout(&self) -> CgroupLayout {
        match (self.unified.is_some(), !self.v1.is_empty()) {
            (true, false) => CgroupLayout::Unified,
            (true, true) => CgroupLayout::Hybrid,
            (false, true) => CgroupLayout::Legacy,
            (false, false) => CgroupLayout::None,
        }
    }

    /// Candidate directories of hierarchy path `relative` (as from
    /// [`container_cgroup_path`] or `/proc/<pid>/cgroup`), without checking that they
    /// exist. With a cgroup2 mount there is exactly one: the unified directory, whose
    /// [`cgroup_id`] is what the kernel reports. Without one (v1 only), one per
    /// hierarchy of `pids`, `memory`, `cpu`, `name=systemd` in that order; their inodes
    /// are not cgroup ids. Empty if `relative` has a `..` component or is outside the
    /// mounted subtrees.
    pub fn container_dirs(&self, relative: &str) -> Vec<PathBuf> {
        if let Some(u) = &self.unified {
            return u.dir(relative).into_iter().collect();
        }
        V1_PREFERENCE
            .iter()
            .filter_map(|c| self.v1.iter().find(|m| m.has_controller(c)))
            .filter_map(|m| m.dir(relative))
            .collect()
    }
}

/// A mount of a cgroup hierarchy → (is cgroup2, mount); `None` for other filesystems.
fn cgroup_mount(m: Mount) -> Option<(bool, CgroupMount)> {
    let is_v2 = match m.fs_type.as_str() {
        "cgroup2" => true,
        "cgroup" => false,
        _ => return None,
    };
    let controllers = if is_v2 {
        Vec::new()
    } else {
        m.super_options
            .split(',')
            .filter(|o| is_controller(o))
            .map(String::from)
            .collect()
    };
    Some((is_v2, CgroupMount::new(m.mount_point, &m.root, controllers)))
}

/// Whether a cgroup v1 super option names a controller (or a named hierarchy).
fn is_controller(opt: &str) -> bool {
    let flag = [
        "",
        "rw",
        "ro",
        "xattr",
        "noprefix",
        "clone_children",
        "cpuset_v2_mode",
    ];
    opt.starts_with("name=") || !(flag.contains(&opt) || opt.contains('='))
}

/// Non-empty, non-`.` components of a `/`-separated path; None if one is `..`.
pub fn components(path: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    (!parts.contains(&"..")).then_some(parts)
}

/// Whether `dir` is the root of a cgroup2 hierarchy rather than a cgroup below it (a
/// cgroup namespace's view): the root has `cgroup.procs` but no `cgroup.type`.
pub fn is_hierarchy_root(dir: &Path) -> bool {
    dir.join("cgroup.procs").exists() && !dir.join("cgroup.type").exists()
}

/// `configured` when it is not empty; otherwise the cgroup2 mount that shows the
/// hierarchy's root (see [`CgroupRoots::discover`]). `None` when there is no cgroup2
/// mount (or the mount table cannot be read).
pub fn cgroup2_root(configured: &Path) -> Option<PathBuf> {
    if !configured.as_os_str().is_empty() {
        return Some(configured.to_path_buf());
    }
    CgroupRoots::discover().ok()?.unified.map(|m| m.mount_point)
}

/// The cgroup id of a cgroup directory: its inode number. Only meaningful for a
/// directory of the unified (cgroup2) hierarchy, where it equals what
/// `bpf_get_current_cgroup_id()` returns for processes in it; v1 inodes are unrelated.
pub fn cgroup_id(dir: &Path) -> io::Result<u64> {
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        let msg = format!("{} is not a directory", dir.display());
        return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
    }
    Ok(meta.ino())
}

#[cfg(test)]
#[path = "cgroups_tests.rs"]
mod tests;
