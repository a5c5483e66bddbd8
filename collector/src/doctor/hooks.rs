//! The kernel hooks each source attaches to, as the doctor checks them. Names come from
//! `kotel_common`, the same constants the loaders attach with.

use kotel_common::{exec, programs};

use super::Hook;

const fn required(category: &'static str, name: &'static str) -> Hook {
    Hook {
        category,
        name,
        required: true,
    }
}

const fn optional(category: &'static str, name: &'static str) -> Hook {
    Hook {
        category,
        name,
        required: false,
    }
}

/// `tcp`: connection lifecycle (required); RTT samples, retransmits and resets.
pub const TCP: &[Hook] = &[
    required(programs::TCP_STATE_CATEGORY, programs::TCP_STATE_TRACEPOINT),
    optional(programs::TCP_CATEGORY, programs::TCP_RTT_TRACEPOINT),
    optional(programs::TCP_CATEGORY, "tcp_retransmit_skb"),
    optional(programs::TCP_CATEGORY, "tcp_send_reset"),
    optional(programs::TCP_CATEGORY, "tcp_receive_reset"),
];
/// `exec`: successful execs (as a BTF tracepoint where possible, else a tracepoint).
pub const EXEC: &[Hook] = &[required(exec::names::CATEGORY, exec::names::TRACEPOINT)];
/// `file_open`: each open syscall's entry (the path) and exit (the result); only
/// `openat` is required, the others are attached where the architecture has them.
pub const FILE_OPEN: &[Hook] = &[
    required("syscalls", "sys_enter_openat"),
    required("syscalls", "sys_exit_openat"),
    optional("syscalls", "sys_enter_openat2"),
    optional("syscalls", "sys_exit_openat2"),
    optional("syscalls", "sys_enter_open"),
    optional("syscalls", "sys_exit_open"),
    optional("syscalls", "sys_enter_creat"),
    optional("syscalls", "sys_exit_creat"),
];
