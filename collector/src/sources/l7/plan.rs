//! What the `l7` source loads on a kernel: its object with the capture size, the agent's
//! pid and the VFS and socket offsets as globals, and its programs on the syscall
//! tracepoints.
//!
//! Contract: [`plan`] is the one place that turns a config and the kernel's facts into
//! globals and a program list; the loader loads exactly that, and `kotel doctor` and the
//! load-combination test verify exactly that. Exit programs come first, so that every
//! enter that keeps a slot has its exit attached (an enter whose exit is not attached
//! would leave a slot a later exit of the same thread could take for its own). The
//! syscalls every libc uses for sockets (`read`, `write`, `recvfrom`, `sendto`,
//! `connect`, `accept4`, `close`) are required; the others are planned where the kernel
//! has their tracepoints. [`every_switch`] enumerates the load-time switches (the capture
//! size, the offsets known or not).

use kotel_common::l7::{names, SockFields, CAPTURE_MAX};
use kotel_common::vfs::VfsFields;

use super::config::{L7SourceConfig, MIN_CAPTURE_BYTES};
use crate::kernel::attach::hook_exists;
use crate::kernel::btf::{Btf, BtfError};
use crate::kernel::spec::{Attach, Combination, LoadPlan, Need, ObjectSpec, Planned, ProgramSpec};

/// The kernel object built by `collector/build.rs` (empty with `AYA_BUILD_SKIP=1`).
pub(super) static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kotel-l7"));

/// One program on one syscall tracepoint, and whether the source needs it.
struct Hook {
    program: &'static str,
    tracepoint: &'static str,
    required: bool,
}

const fn hook(program: &'static str, tracepoint: &'static str, required: bool) -> Hook {
    Hook {
        program,
        tracepoint,
        required,
    }
}

/// Every hook, in attach order: exits, then close, then enters.
const HOOKS: [Hook; 31] = [
    hook(names::EXIT, "sys_exit_read", true),
    hook(names::EXIT, "sys_exit_write", true),
    hook(names::EXIT, "sys_exit_recvfrom", true),
    hook(names::EXIT, "sys_exit_sendto", true),
    hook(names::EXIT, "sys_exit_readv", false),
    hook(names::EXIT, "sys_exit_writev", false),
    hook(names::EXIT, "sys_exit_recvmsg", false),
    hook(names::EXIT, "sys_exit_sendmsg", false),
    hook(names::EXIT, "sys_exit_sendfile64", false),
    hook(names::EXIT, "sys_exit_connect", true),
    hook(names::EXIT, "sys_exit_dup", false),
    hook(names::EXIT, "sys_exit_dup2", false),
    hook(names::EXIT, "sys_exit_dup3", false),
    hook(names::EXIT, "sys_exit_fcntl", false),
    hook(names::EXIT_ACCEPT, "sys_exit_accept4", true),
    hook(names::EXIT_ACCEPT, "sys_exit_accept", false),
    hook(names::ENTER_CLOSE, "sys_enter_close", true),
    hook(names::ENTER_RECV, "sys_enter_read", true),
    hook(names::ENTER_SEND, "sys_enter_write", true),
    hook(names::ENTER_RECVFROM, "sys_enter_recvfrom", true),
    hook(names::ENTER_SEND, "sys_enter_sendto", true),
    hook(names::ENTER_READV, "sys_enter_readv", false),
    hook(names::ENTER_WRITEV, "sys_enter_writev", false),
    hook(names::ENTER_RECVMSG, "sys_enter_recvmsg", false),
    hook(names::ENTER_SENDMSG, "sys_enter_sendmsg", false),
    hook(names::ENTER_SENDFILE, "sys_enter_sendfile64", false),
    hook(names::ENTER_CONNECT, "sys_enter_connect", true),
    hook(names::ENTER_DUP, "sys_enter_dup", false),
    hook(names::ENTER_DUP, "sys_enter_dup2", false),
    hook(names::ENTER_DUP, "sys_enter_dup3", false),
    hook(names::ENTER_FCNTL, "sys_enter_fcntl", false),
];

/// What the running kernel decides about the programs before they load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFacts {
    /// VFS offsets (the file behind a descriptor).
    pub vfs: VfsFields,
    /// Socket offsets.
    pub sock: SockFields,
    /// The agent's thread-group id as the kernel numbers it.
    pub own_tgid: u32,
}

impl KernelFacts {
    /// The running kernel's facts; `proc` is the host's `/proc`.
    pub fn of_running_kernel(proc: &std::path::Path) -> Self {
        let btf = crate::kernel::shared_btf::ours();
        let (vfs, _) = crate::kernel::vfs_fields::of_parsed(&btf);
        let sock = btf
            .as_deref()
            .map_err(Clone::clone)
            .and_then(sock_fields)
            .unwrap_or_default();
        Self {
            vfs,
            sock,
            own_tgid: crate::node::process::own_tgid(proc),
        }
    }

    /// Why the source cannot run with these facts, if it cannot.
    pub fn missing(&self) -> Option<&'static str> {
        if self.vfs.valid == 0 {
            Some("no VFS offsets (kernel BTF, /sys/kernel/btf/vmlinux): the socket behind a descriptor cannot be read")
        } else if self.sock.valid == 0 {
            Some("no socket offsets (kernel BTF, /sys/kernel/btf/vmlinux)")
        } else {
            None
        }
    }
}

/// The socket members the open reads, from `btf`.
pub fn sock_fields(btf: &Btf) -> Result<SockFields, BtfError> {
    let common = |member: &str| btf.offset_of("sock_common", &[member]);
    Ok(SockFields {
        valid: 1,
        file_private_data: btf.offset_of("file", &["private_data"])?,
        socket_type: btf.offset_of("socket", &["type"])?,
        socket_sk: btf.offset_of("socket", &["sk"])?,
        skc_family: common("skc_family")?,
        skc_num: common("skc_num")?,
        skc_dport: common("skc_dport")?,
        skc_rcv_saddr: common("skc_rcv_saddr")?,
        skc_daddr: common("skc_daddr")?,
        skc_v6_rcv_saddr: common("skc_v6_rcv_saddr")?,
        skc_v6_daddr: common("skc_v6_daddr")?,
    })
}

/// The plan for `config` on a kernel with `facts`.
pub fn plan(config: &L7SourceConfig, facts: &KernelFacts) -> LoadPlan {
    plan_with(config, facts, true)
}

fn plan_with(config: &L7SourceConfig, facts: &KernelFacts, only_present: bool) -> LoadPlan {
    let wakeup = u64::from(config.ring_buffer_bytes / 4);
    let spec = ObjectSpec::new("l7", OBJECT)
        .global(names::CAPTURE_BYTES, &config.capture_bytes)
        .global(names::OWN_TGID, &facts.own_tgid)
        .global(names::WAKEUP_BYTES, &wakeup)
        .global(names::VFS_FIELDS, &facts.vfs)
        .global(names::SOCK_FIELDS, &facts.sock)
        .map_size(names::EVENTS, config.ring_buffer_bytes);
    let mut programs = Vec::new();
    let mut left_out = Vec::new();
    for h in &HOOKS {
        let program = ProgramSpec {
            name: h.program,
            attach: Attach::TracePoint {
                category: names::CATEGORY,
                name: h.tracepoint,
            },
        };
        if only_present && !h.required && !hook_exists(&program.attach, None) {
            left_out.push(format!("this kernel has no syscalls:{}", h.tracepoint));
            continue;
        }
        programs.push(Planned {
            program,
            need: if h.required {
                Need::Required
            } else {
                Need::Optional
            },
        });
    }
    if let Some(why) = facts.missing() {
        left_out.push(format!("{why}: no connection is followed"));
    }
    LoadPlan {
        spec,
        programs,
        left_out,
        method: vec![format!(
            "syscall tracepoints only: sockets followed from connect/accept to close, the \
             first {} bytes of every read and write on them copied; a read or write on any \
             other descriptor costs one hash lookup (enter) and one array slot check (exit)",
            config.capture_bytes
        )],
    }
}

/// One plan per load-time switch: the smallest, default and largest capture, and the
/// offsets unknown (every program still loads; none follows a socket).
pub fn every_switch(config: &L7SourceConfig, facts: &KernelFacts) -> Vec<Combination> {
    let mut out = Vec::new();
    for capture in [MIN_CAPTURE_BYTES, 1024, CAPTURE_MAX as u32] {
        let c = L7SourceConfig {
            capture_bytes: capture,
            ..config.clone()
        };
        out.push(Combination {
            label: format!("capture {capture} bytes"),
            plan: plan_with(&c, facts, true),
            btf: false,
        });
    }
    let unknown = KernelFacts {
        vfs: VfsFields::default(),
        sock: SockFields::default(),
        ..*facts
    };
    out.push(Combination {
        label: "no offsets".to_string(),
        plan: plan_with(config, &unknown, true),
        btf: false,
    });
    out
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
