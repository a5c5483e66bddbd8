//! This process as the kernel numbers it.

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
