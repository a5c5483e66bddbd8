//! The filesystem roots watched paths are resolved in: one per mount namespace on the node
//! (the host's and every container's), reached through `<proc>/<pid>/root` of one process
//! in each, plus this process's own root.
//!
//! Contract: [`roots`] never fails: processes that vanish or cannot be read are skipped;
//! the result always holds this process's root (`/proc/self/root`), first unless a process
//! under `proc` shares its mount namespace (then that process's entry stands for it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A root to resolve watched paths in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// Where it is reachable from this process (`/proc/1234/root`, or `/proc/self/root`
    /// for this process's own): `mountinfo` beside it describes its mounts.
    pub path: PathBuf,
    /// The mount namespace's inode number (0 when unknown).
    pub mnt_ns: u64,
}

/// The mount namespace of `<proc>/<pid>` (`pid` may be `self`).
fn mount_namespace(proc: &Path, pid: &str) -> Option<u64> {
    let link = std::fs::read_link(proc.join(pid).join("ns/mnt")).ok()?;
    let text = link.to_str()?;
    text.strip_prefix("mnt:[")?.strip_suffix(']')?.parse().ok()
}

/// One root per mount namespace found under `proc` (lowest pid first), then this process's
/// `/` when its namespace was not among them.
pub fn roots(proc: &Path) -> Vec<Root> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc)
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for pid in pids {
        let Some(ns) = mount_namespace(proc, &pid.to_string()) else {
            continue;
        };
        if seen.insert(ns) {
            out.push(Root {
                path: proc.join(pid.to_string()).join("root"),
                mnt_ns: ns,
            });
        }
    }
    let own = mount_namespace(Path::new("/proc"), "self").unwrap_or(0);
    if own == 0 || !seen.contains(&own) {
        out.insert(
            0,
            Root {
                path: PathBuf::from("/proc/self/root"),
                mnt_ns: own,
            },
        );
    }
    out
}

#[cfg(test)]
#[path = "namespaces_tests.rs"]
mod tests;
