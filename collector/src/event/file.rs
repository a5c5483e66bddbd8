//! Opens of watched paths (`file_open` source): security events.

use serde::{Deserialize, Serialize};

use crate::event::Attribution;

/// One open(2)/openat(2)/openat2(2)/creat(2) of a watched file or directory, or of
/// something below a watched directory.
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
    /// The file's absolute path as the kernel resolved it, from the process's root
    /// (`file.path`). For a failed open: the requested path when absolute, else the
    /// directory it started from joined with it (not normalised). Bytes that are not UTF-8
    /// appear as `\xNN`.
    pub path: String,
    /// True when `path` lacks components at its root end (deeper than the kernel walks, or
    /// a read failed), or, for a failed open, the requested path was cut.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub path_truncated: bool,
    /// True when the file lies outside every mount the process can see (a memfd, a file
    /// of another mount namespace reached through a passed descriptor): `path` is relative
    /// to that mount's root.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub path_detached: bool,
    /// The path as the process passed it, unresolved (`file.requested_path`); empty when
    /// the kernel lost the open's arguments (`syscall` is then empty too).
    #[serde(default)]
    pub requested_path: String,
    /// True when `requested_path` was cut to the kernel's bound (255 bytes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requested_path_truncated: bool,
    /// The open flags as requested (the file's own flags, without `O_CREAT`, `O_EXCL`,
    /// `O_NOCTTY` and `O_TRUNC`, when the arguments were lost).
    pub flags: u32,
    /// Readable names of the access mode and notable flags: one of `read`, `write`,
    /// `read_write`, `path` (O_PATH), then any of `create`, `truncate`, `append`, `tmpfile`.
    pub access: Vec<String>,
    /// 0 on success, else the errno (e.g. 2 for ENOENT, 13 for EACCES).
    pub errno: i32,
    /// The syscall: `openat`, `openat2`, `open` or `creat` (empty in old recordings and
    /// when the arguments were lost).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub syscall: String,
    /// How the open matched (`file.open.match`): `inode` (the file or directory is a
    /// watched one, by any name or link), `directory` (it lies below a watched directory),
    /// `name` (it has a watched file's name in that file's directory: created or renamed
    /// there since the watched paths were last resolved), `path` (a failed open whose
    /// requested path starts with a watched path).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub matched: String,
    /// The watched path, as configured, that matched (`file.open.watched_path`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub watched_path: String,
    /// Inode number of the opened file (`file.inode`); 0 for a failed open.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inode: u64,
    /// Device of the opened file, `major:minor` (`file.device`); empty for a failed open.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub device: String,
    /// True when the opened file has no link left (unlinked, `O_TMPFILE`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unlinked: bool,
    /// The container, pod and namespace (or host) of the event, set by `k8s_cri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Attribution,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
