//! Where the cgroup2 hierarchy's root is mounted, as this process sees it.
//!
//! In a container with its own cgroup namespace, `/proc/self/mounts` lists the
//! container's `/sys/fs/cgroup` first, and that mount shows only the container's own
//! subtree. A DaemonSet mounts the host's hierarchy elsewhere (e.g.
//! `/host/sys/fs/cgroup`); attaching a cgroup program or resolving a cgroup path must use
//! that one. The hierarchy's real root is recognised by what it lacks: every cgroup but
//! the root has a `cgroup.type` file.

use std::path::{Path, PathBuf};

/// `configured` when it is not empty; otherwise the cgroup2 mount in `/proc/self/mounts`
/// that shows the hierarchy's root, else the first cgroup2 mount. `None` when there is
/// no cgroup2 mount (or `/proc/self/mounts` cannot be read).
pub fn cgroup2_root(configured: &Path) -> Option<PathBuf> {
    if !configured.as_os_str().is_empty() {
        return Some(configured.to_path_buf());
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    pick_root(cgroup2_mounts(&mounts), is_hierarchy_root)
}

/// The mount points of the cgroup2 filesystems in `/proc/self/mounts` text, in order.
/// Octal escapes (`\040` for a space) are decoded.
pub fn cgroup2_mounts(mounts: &str) -> Vec<PathBuf> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, point, fstype) = (fields.next()?, fields.next()?, fields.next()?);
            (fstype == "cgroup2").then(|| PathBuf::from(unescape_mount_field(point)))
        })
        .collect()
}

/// The first of `candidates` for which `is_root` holds, else the first candidate.
pub fn pick_root(candidates: Vec<PathBuf>, is_root: impl Fn(&Path) -> bool) -> Option<PathBuf> {
    candidates
        .iter()
        .find(|p| is_root(p))
        .or(candidates.first())
        .cloned()
}

/// Whether `dir` is the root of a cgroup2 hierarchy rather than a cgroup below it (a
/// cgroup namespace's view): the root has `cgroup.procs` but no `cgroup.type`.
pub fn is_hierarchy_root(dir: &Path) -> bool {
    dir.join("cgroup.procs").exists() && !dir.join("cgroup.type").exists()
}

/// Decodes the octal escapes the kernel writes in mount tables (`/proc/self/mounts`,
/// `mountinfo`): `\040` space, `\011` tab, `\012` newline, `\134` backslash.
pub fn unescape_mount_field(s: &str) -> String {
    let (b, mut out, mut i) = (s.as_bytes(), Vec::with_capacity(s.len()), 0);
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct.map(|d| d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'))) {
            Some(v) if v <= 0xff => {
                out.push(v as u8);
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTAINER_MOUNTS: &str = "\
overlay / overlay rw,relatime 0 0
cgroup /sys/fs/cgroup cgroup2 ro,nosuid,nodev,noexec,relatime 0 0
cgroup /host/sys/fs/cgroup cgroup2 ro,nosuid,nodev,noexec,relatime 0 0
proc /host/proc proc ro 0 0
";

    #[test]
    fn lists_cgroup2_mounts_in_order_and_decodes_escapes() {
        let text = format!("{CONTAINER_MOUNTS}cgroup2 /mnt/my\\040cgroup cgroup2 rw 0 0\n");
        assert_eq!(
            cgroup2_mounts(&text),
            [
                PathBuf::from("/sys/fs/cgroup"),
                "/host/sys/fs/cgroup".into(),
                "/mnt/my cgroup".into()
            ]
        );
    }

    #[test]
    fn prefers_the_mount_that_shows_the_hierarchy_root_over_a_namespaced_view() {
        let picked = pick_root(cgroup2_mounts(CONTAINER_MOUNTS), |p| {
            p == Path::new("/host/sys/fs/cgroup")
        });
        assert_eq!(picked, Some(PathBuf::from("/host/sys/fs/cgroup")));
    }

    #[test]
    fn falls_back_to_the_first_mount_when_none_shows_the_root() {
        let picked = pick_root(cgroup2_mounts(CONTAINER_MOUNTS), |_| false);
        assert_eq!(picked, Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(
            pick_root(cgroup2_mounts("proc /proc proc rw 0 0\n"), |_| true),
            None
        );
    }

    #[test]
    fn a_configured_root_wins_without_looking_at_mounts() {
        assert_eq!(
            cgroup2_root(Path::new("/host/sys/fs/cgroup")),
            Some(PathBuf::from("/host/sys/fs/cgroup"))
        );
    }

    #[test]
    fn a_directory_with_cgroup_type_is_not_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.procs"), "").unwrap();
        assert!(is_hierarchy_root(dir.path()));
        std::fs::write(dir.path().join("cgroup.type"), "domain\n").unwrap();
        assert!(!is_hierarchy_root(dir.path()));
    }
}
