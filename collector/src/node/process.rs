//! Processes as the kernel numbers them: this one, and any one's cgroup.

/// This process's id in the pid namespace of `proc` (the host's `/proc` mounted into a
/// pod, where kernel programs see host pids), else as this process sees it.
pub fn own_tgid(proc: &std::path::Path) -> u32 {
    std::fs::read_link(proc.join("self"))
        .ok()
        .and_then(|p| p.to_str()?.parse().ok())
        .unwrap_or_else(std::process::id)
}

/// The host's `/proc` as this process sees it: `<host_root>/proc` (a pod that mounts the
/// host's `/` at `host_root`), or `/proc` for an empty `host_root`.
pub fn host_proc(host_root: &std::path::Path) -> std::path::PathBuf {
    std::path::Path::new("/").join(host_root).join("proc")
}

/// The cgroup v2 id of process `tgid` (its `0::` line in `<proc>/<tgid>/cgroup`, below
/// the cgroup2 root `cgroup_root`); `None` when the process is gone or its cgroup is not
/// visible from here (another cgroup namespace).
pub fn cgroup_id_of(
    proc: &std::path::Path,
    tgid: u32,
    cgroup_root: &std::path::Path,
) -> Option<u64> {
    let text = std::fs::read_to_string(proc.join(tgid.to_string()).join("cgroup")).ok()?;
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = cgroup_root.join(path.trim_start_matches('/'));
    crate::node::cgroups::cgroup_id(&dir).ok()
}
