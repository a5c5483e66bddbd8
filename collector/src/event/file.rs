//! Opens of watched paths (`file_open` source): security events.

use serde::{Deserialize, Serialize};

/// One open(2)/openat(2)/openat2(2) of a path under a watched prefix.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileOpenEvent {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Process id.
    pub pid: u32,
    /// Task name.
    pub comm: String,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// The path as passed to the syscall (relative paths are relative to the caller's cwd or dirfd).
    pub path: String,
    /// True when `path` was cut to the kernel's bound.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub path_truncated: bool,
    /// The raw open flags.
    pub flags: u32,
    /// Readable names of the access mode and notable flags: `read`, `write`, `create`, `truncate`, `append`.
    pub access: Vec<String>,
    /// 0 on success, else the errno (e.g. 2 for ENOENT, 13 for EACCES).
    pub errno: i32,
}
