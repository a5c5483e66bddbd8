//! Container cgroup paths: a runtime's OCI `linux.cgroupsPath` as a hierarchy path
//! ([`container_cgroup_path`]), container ids in cgroup paths ([`ProcCgroup`],
//! [`container_id_in_path`]). Where the hierarchies are mounted and cgroup ids are the
//! node's ([`crate::node::cgroups`]). Everything here is synchronous and, apart from
//! [`ProcCgroup::read`], free of I/O.

use std::io;
use std::path::Path;

use crate::node::cgroups::{components, V1_PREFERENCE};

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

#[cfg(test)]
#[path = "cgroup_tests.rs"]
mod tests;
