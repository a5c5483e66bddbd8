//! Opens of watched paths (`file_open` source): security events.

use serde::{Deserialize, Serialize};

use crate::event::Attribution;

/// One open(2)/openat(2)/openat2(2)/creat(2) of a path under a watched prefix.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileOpenEvent {
    /// Wall-clock time of the syscall's return, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Process id.
    pub pid: u32,
    /// Thread id (equals `pid` for a single-threaded process).
    #[serde(default)]
    pub tid: u32,
    /// Task name.
    pub comm: String,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// The path as passed to the syscall, unresolved (relative paths are relative to the
    /// caller's cwd or dirfd); bytes that are not UTF-8 appear as `\xNN`.
    pub path: String,
    /// True when `path` was cut to the kernel's bound (255 bytes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub path_truncated: bool,
    /// The raw open flags.
    pub flags: u32,
    /// Readable names of the access mode and notable flags: one of `read`, `write`,
    /// `read_write`, `path` (O_PATH), then any of `create`, `truncate`, `append`, `tmpfile`.
    pub access: Vec<String>,
    /// 0 on success, else the errno (e.g. 2 for ENOENT, 13 for EACCES).
    pub errno: i32,
    /// The syscall: `openat`, `openat2`, `open` or `creat` (empty in old recordings).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub syscall: String,
    /// The container, pod and namespace (or host) of the event, set by `k8s_cri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Attribution,
}
