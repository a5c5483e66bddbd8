//! Cgroup layouts: container cgroup directories, cgroup ids and `/proc/<pid>/cgroup`.
//!
//! Kernel events carry `bpf_get_current_cgroup_id()`, which is the inode number of the
//! process's directory in the cgroup v2 (unified) hierarchy. This module finds where the
//! hierarchies are mounted ([`CgroupRoots`]), turns a runtime's OCI `linux.cgroupsPath`
//! into a directory ([`container_cgroup_path`], [`CgroupRoots::container_dirs`]), reads
//! that directory's id ([`cgroup_id`]) and reads container ids out of cgroup paths
//! ([`ProcCgroup`], [`container_id_in_path`]). Everything here is synchronous and,
//! apart from `discover`, `read` and `cgroup_id`, free of I/O.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::kernel::cgroup2::{is_hierarchy_root, unescape_mount_field as unescape};

/// v1 controllers to look in, best first (`pids` and `memory` are nearly always there).
const V1_PREFERENCE: [&str; 4] = ["pids", "memory", "cpu", "name=systemd"];

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
        let mut mounts: Vec<(bool, bool, CgroupMount)> = text
            .lines()
            .filter_map(parse_mount)
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

/// One mountinfo line → (is cgroup2, mount), if it is a cgroup mount. Format:
/// `id parent major:minor root mount_point options [optional...] - fstype source super`.
fn parse_mount(line: &str) -> Option<(bool, CgroupMount)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let sep = fields.iter().position(|f| *f == "-").filter(|s| *s >= 6)?;
    let (root, mount_point) = (fields[3], fields[4]);
    let is_v2 = match *fields.get(sep + 1)? {
        "cgroup2" => true,
        "cgroup" => false,
        _ => return None,
    };
    let controllers = if is_v2 {
        Vec::new()
    } else {
        let opts = fields.get(sep + 3).copied().unwrap_or("");
        opts.split(',')
            .filter(|o| is_controller(o))
            .map(String::from)
            .collect()
    };
    let mount_point = PathBuf::from(unescape(mount_point));
    Some((
        is_v2,
        CgroupMount::new(mount_point, &unescape(root), controllers),
    ))
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
fn components(path: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    (!parts.contains(&"..")).then_some(parts)
}

/// Converts an OCI runtimeSpec `linux.cgroupsPath` into a hierarchy path (`/a/b`).
///
/// * cgroupfs driver: an absolute path (`/kubepods/besteffort/pod<uid>/<id>`,
///   `/k8s.io/<id>`), returned normalised (no `//`, `.`, trailing `/`).
/// * systemd driver: `slice:prefix:name` as runc reads it: the slice expands by its
///   dashes (`kubepods-besteffort-pod<uid>.slice` →
///   `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice`;
///   kubelet already wrote the uid's dashes as `_`), an empty slice is `system.slice`,
///   and the unit is `prefix-name.scope` (or `name` itself if it ends in `.slice`).
///
/// None for empty input, `/`, relative paths, `..` components and malformed slices.
pub fn container_cgroup_path(cgroups_path: &str) -> Option<String> {
    let p = cgroups_path.trim();
    if p.starts_with('/') {
        let parts = components(p)?;
        return (!parts.is_empty()).then(|| format!("/{}", parts.join("/")));
    }
    let mut it = p.split(':');
    let (slice, prefix, name) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || name.is_empty() || prefix.contains('/') || name.contains('/') {
        return None;
    }
    let slice = expand_slice(
        Some(slice)
            .filter(|s| !s.is_empty())
            .unwrap_or("system.slice"),
    )?;
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else {
        format!("{prefix}-{name}.scope")
    };
    Some(format!("{}/{unit}", slice.trim_end_matches('/')))
}

/// systemd slice name → path: `a-b.slice` → `/a.slice/a-b.slice`; `-.slice` → `/`.
fn expand_slice(slice: &str) -> Option<String> {
    let base = slice
        .strip_suffix(".slice")
        .filter(|b| !b.is_empty() && !b.contains('/'))?;
    if base == "-" {
        return Some("/".into());
    }
    let (mut path, mut prefix) = (String::new(), String::new());
    for part in base.split('-') {
        if part.is_empty() {
            return None;
        }
        prefix.push_str(part);
        path.push_str(&format!("/{prefix}.slice"));
        prefix.push('-');
    }
    Some(path)
}

/// The parsed `/proc/<pid>/cgroup` of one process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcCgroup {
    /// The cgroup v2 path (the `0::` line), if the kernel lists one.
    pub unified: Option<String>,
    /// cgroup v1 lines: (controllers such as `cpu,cpuacct` or `name=systemd`, path).
    pub v1: Vec<(String, String)>,
}

impl ProcCgroup {
    /// Parses `/proc/<pid>/cgroup` text (`hierarchy-id:controllers:path` lines). Paths
    /// are relative to the reader's cgroup namespace (they may start with `/..`); the
    /// kernel's ` (deleted)` suffix on removed v2 cgroups is dropped.
    pub fn parse(text: &str) -> ProcCgroup {
        let mut pc = ProcCgroup::default();
        for line in text.lines() {
            let mut it = line.splitn(3, ':');
            let (Some(id), Some(ctrl), Some(path)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let path = path.strip_suffix(" (deleted)").unwrap_or(path).to_string();
            match (id, ctrl) {
                ("0", "") => pc.unified = Some(path),
                (_, "") => {}
                _ => pc.v1.push((ctrl.to_string(), path)),
            }
        }
        pc
    }

    /// Reads `<proc_root>/<pid>/cgroup` (`proc_root` is `/proc`, or e.g. `/host/proc`).
    pub fn read(proc_root: &Path, pid: u32) -> io::Result<ProcCgroup> {
        let text = std::fs::read_to_string(proc_root.join(pid.to_string()).join("cgroup"))?;
        Ok(Self::parse(&text))
    }

    /// The path that names a container (see [`container_id_in_path`]): the unified one
    /// if it does, else a v1 one, preferring `pids`, `memory`, `cpu`, `name=systemd`.
    pub fn container_path(&self) -> Option<&str> {
        if let Some(u) = self
            .unified
            .as_deref()
            .filter(|u| container_id_in_path(u).is_some())
        {
            return Some(u);
        }
        let rank = |ctrl: &str| {
            let found = V1_PREFERENCE
                .iter()
                .position(|c| ctrl.split(',').any(|x| x == *c));
            found.unwrap_or(V1_PREFERENCE.len())
        };
        self.v1
            .iter()
            .filter(|(_, p)| container_id_in_path(p).is_some())
            .min_by_key(|(c, _)| rank(c))
            .map(|(_, p)| p.as_str())
    }
}

/// The container id named by the last component of a cgroup path: 64 lowercase hex
/// characters, either bare (`/kubepods/besteffort/pod<uid>/<id>`, `/k8s.io/<id>`,
/// `/docker/<id>`, k3s alike) or in a runtime's systemd scope (`cri-containerd-<id>.scope`,
/// `crio-<id>.scope`, `docker-<id>.scope`, `cri-dockerd-<id>.scope`,
/// `libpod-<id>.scope`). None for everything else: `/`, pod and user slices,
/// `init.scope`, conmon scopes (`crio-conmon-<id>.scope`), ids of another length or case.
pub fn container_id_in_path(path: &str) -> Option<&str> {
    const SCOPES: [&str; 5] = [
        "cri-containerd-",
        "crio-",
        "docker-",
        "cri-dockerd-",
        "libpod-",
    ];
    let last = path.rsplit('/').next()?;
    let id = match last.strip_suffix(".scope") {
        Some(unit) => SCOPES.iter().find_map(|p| unit.strip_prefix(p))?,
        None => last,
    };
    let hex = id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    hex.then_some(id)
}

/// Whether `path` is the cgroup of container `container_id` itself. Guards runtime
/// answers: a cgroupsPath of `/` or of a host slice must never map host processes (or
/// a cgroup id) to a container.
pub fn path_names_container(path: &str, container_id: &str) -> bool {
    container_id_in_path(path) == Some(container_id)
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
#[path = "cgroup_tests.rs"]
mod tests;
