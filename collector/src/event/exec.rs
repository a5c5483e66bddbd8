//! Process execs (`exec` source).

use serde::{Deserialize, Serialize};

/// One successful exec.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecEvent {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Process id (`process.pid`).
    pub pid: u32,
    /// Parent process id (`process.parent_pid`).
    pub ppid: u32,
    /// Real user id (`process.real_user.id`).
    pub uid: u32,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// Task name after the exec (`process.executable.name` as the kernel knows it).
    pub comm: String,
    /// Path of the executed binary (`process.executable.path`).
    pub path: String,
    /// Arguments, argv[0] first (`process.command_args`), possibly cut short.
    pub args: Vec<String>,
    /// True when `args` (or the last argument) was cut to the kernel's bound.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub args_truncated: bool,
}
