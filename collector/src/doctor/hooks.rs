//! The kernel hooks each source attaches to, as the doctor checks them.

use kotel_common::programs;

use super::Hook;

const fn required(category: &'static str, name: &'static str) -> Hook {
    Hook {
        category,
        name,
        required: true,
    }
}

/// `tcp`: connection lifecycle.
pub const TCP: &[Hook] = &[required(
    programs::TCP_STATE_CATEGORY,
    programs::TCP_STATE_TRACEPOINT,
)];
/// `exec`: argv at syscall entry, success at `sched_process_exec`, cleanup at exit.
pub const EXEC: &[Hook] = &[
    required("syscalls", "sys_enter_execve"),
    required("sched", "sched_process_exec"),
    required("sched", "sched_process_exit"),
];
/// `file_open`: the path at syscall entry, the result at exit.
pub const FILE_OPEN: &[Hook] = &[
    required("syscalls", "sys_enter_openat"),
    required("syscalls", "sys_exit_openat"),
];
