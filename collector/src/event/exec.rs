//! Process execs (`exec` source).

use serde::{Deserialize, Serialize};

use crate::event::Attribution;

/// One successful exec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecEvent {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Process id (`process.pid`).
    pub pid: u32,
    /// Parent process id (`process.parent_pid`); 0 when the kernel could not tell.
    pub ppid: u32,
    /// Real user id (`process.real_user.id`).
    pub uid: u32,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// Task name after the exec (`process.executable.name` as the kernel knows it).
    pub comm: String,
    /// The path given to exec (`process.executable.requested_path`), possibly relative,
    /// possibly cut short (`path_truncated`); for a script, the script.
    pub path: String,
    /// The executable file's absolute path as the kernel resolved it
    /// (`process.executable.path`, what `/proc/<pid>/exe` shows): for a script, its
    /// interpreter. For a memfd, `/memfd:<name>`. Empty when unknown (no VFS offsets).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub executable: String,
    /// True when `executable` lacks components at its root end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable_truncated: bool,
    /// What the executable file is (`process.executable.kind`): `file` (a linked file
    /// under the process's root), `deleted` (no link left: deleted since, or `O_TMPFILE`),
    /// `memfd` (an anonymous memory file: fileless execution), `detached` (a file of a
    /// mount outside the process's root); empty when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub executable_kind: String,
    /// The executable's inode number (`process.executable.inode`); 0 when unknown.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub executable_inode: u64,
    /// The working directory (`process.working_directory`); empty when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_directory: String,
    /// For a `#!` script: the script's path (`process.script.path`), `path` joined to the
    /// working directory when relative.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub script: String,
    /// For a `#!` script: the interpreter its first line names
    /// (`process.script.interpreter`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interpreter: String,
    /// Arguments, argv[0] first (`process.command_args`), possibly cut short.
    pub args: Vec<String>,
    /// True when `args` was cut to the kernel's byte budget (the last argument may be cut
    /// too), or could not be read at all (`args` is then empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub args_truncated: bool,
    /// True when `path` was cut to the kernel's bound (256 bytes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub path_truncated: bool,
    /// The container, pod and namespace (or host) of the event, set by `k8s_cri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Attribution,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
