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
    /// Path of the executed binary as given to exec (`process.executable.path`), possibly
    /// relative, possibly cut short (`path_truncated`).
    pub path: String,
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
