//! What the `file_open` source loads on a kernel: its object with the wakeup policy and the
//! VFS offsets as globals, and an enter and an exit program for each open syscall the
//! kernel has.
//!
//! Contract: [`plan`] is the one place that turns a config and the kernel's syscall
//! tracepoints into globals and a program list; the loader loads exactly that, and `kotel
//! doctor` and the load-combination test verify exactly that. For each syscall the enter
//! program comes before the exit program (so an exit finds the arguments of every open
//! it sees; an enter whose exit is not attached yet only leaves a slot the next open
//! overwrites); `openat` is always planned, the others only where the kernel has both of
//! their tracepoints (`open` and `creat` do not exist on arm64), and every planned program
//! is required. [`every_switch`] enumerates the load-time switches (the wakeup policy on or
//! off, the VFS offsets known or not).

use kotel_common::file_open::names;
use kotel_common::vfs::VfsFields;

use super::config::FileOpenSourceConfig;
use crate::kernel::attach::hook_exists;
use crate::kernel::spec::{
    combination_label, Attach, Combination, LoadPlan, Need, ObjectSpec, Planned, ProgramSpec,
};

/// The kernel object built by `collector/build.rs` (empty with `AYA_BUILD_SKIP=1`).
pub(super) static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kotel-file-open"));

fn syscall_tracepoint(name: &'static str, tracepoint: &'static str) -> ProgramSpec {
    ProgramSpec {
        name,
        attach: Attach::TracePoint {
            category: names::CATEGORY,
            name: tracepoint,
        },
    }
}

/// What the running kernel decides about the programs before they load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFacts {
    /// VFS offsets (`valid == 0`: opens are matched by their requested path only).
    pub vfs: VfsFields,
    /// The agent's thread-group id as the kernel numbers it (0: unknown).
    pub own_tgid: u32,
}

impl KernelFacts {
    /// The running kernel's facts (one warning when its VFS offsets are missing); `proc`
    /// is where the host's `/proc` is mounted (`<host_root>/proc`).
    pub fn of_running_kernel(proc: &std::path::Path) -> Self {
        let (vfs, missing) = crate::kernel::vfs_fields::of_running_kernel();
        if let Some(why) = missing {
            tracing::warn!(
                "file_open source: no VFS offsets ({why}): opens are matched by the path \
                 the process passed, unresolved"
            );
        }
        Self {
            vfs,
            own_tgid: own_tgid(proc),
        }
    }
}

/// This process's id in the pid namespace of `proc` (the host's, for a DaemonSet that
/// mounts it), else as this process sees it.
fn own_tgid(proc: &std::path::Path) -> u32 {
    std::fs::read_link(proc.join("self"))
        .ok()
        .and_then(|p| p.to_str()?.parse().ok())
        .unwrap_or_else(std::process::id)
}

/// The plan for `config` on a kernel with `facts`.
pub fn plan(config: &FileOpenSourceConfig, facts: &KernelFacts) -> LoadPlan {
    let wakeup = u64::from(config.wakeup_bytes);
    let spec = ObjectSpec::new("file_open", OBJECT)
        .global(names::WAKEUP_BYTES, &wakeup)
        .global(names::VFS_FIELDS, &facts.vfs)
        .global(names::OWN_TGID, &facts.own_tgid)
        .map_size(names::EVENTS, config.ring_buffer_bytes);
    let mut programs = Vec::new();
    let mut left_out = Vec::new();
    let method = if facts.vfs.valid != 0 {
        vec![
            "opens are matched by what they open: the file behind the returned descriptor \
             (fd -> file -> dentry, VFS offsets from BTF) at the syscall tracepoints; BPF LSM \
             is not used (the tracepoints work on every kernel, LSM needs `bpf` in the \
             kernel's lsm= list)"
                .to_string(),
        ]
    } else {
        Vec::new()
    };
    if facts.vfs.valid == 0 {
        left_out.push(
            "no VFS offsets (kernel BTF): opens are matched by the path the process passed, \
             unresolved (relative paths, links and `..` are not followed)"
                .to_string(),
        );
    }
    for (i, hooks) in names::HOOKS.iter().enumerate() {
        let exit = syscall_tracepoint(names::PROG_EXIT, hooks.exit);
        let enter = syscall_tracepoint(hooks.enter_program, hooks.enter);
        let present = hook_exists(&exit.attach, None) && hook_exists(&enter.attach, None);
        if i > 0 && !present {
            left_out.push(format!(
                "this kernel has no {} tracepoints: opens through {}() are not seen",
                hooks.syscall, hooks.syscall
            ));
            continue;
        }
        // Both hooks of a planned syscall are required: an exit without its enter would
        // report every match without its arguments.
        for program in [enter, exit] {
            programs.push(Planned {
                program,
                need: Need::Required,
            });
        }
    }
    LoadPlan {
        spec,
        programs,
        left_out,
        method,
    }
}

/// The syscalls of a plan, in attach order (for the start-up log).
pub fn syscalls(plan: &LoadPlan) -> Vec<&'static str> {
    names::HOOKS
        .iter()
        .filter(|h| {
            plan.programs
                .iter()
                .any(|p| p.program.name == h.enter_program)
        })
        .map(|h| h.syscall)
        .collect()
}

/// One plan per combination of the load-time switches (the wakeup policy on or off, the VFS
/// offsets known or not, BTF present or not), each with every program of the object.
pub fn every_switch(config: &FileOpenSourceConfig, facts: &KernelFacts) -> Vec<Combination> {
    let every: Vec<Planned> = names::HOOKS
        .iter()
        .flat_map(|h| {
            [
                syscall_tracepoint(h.enter_program, h.enter),
                syscall_tracepoint(names::PROG_EXIT, h.exit),
            ]
        })
        .map(|program| Planned {
            program,
            need: Need::Required,
        })
        .collect();
    let mut out = Vec::new();
    for (wakeup, wakeup_bytes) in [(true, config.wakeup_bytes.max(1)), (false, 0)] {
        for vfs in [true, false] {
            for btf in [true, false] {
                let c = FileOpenSourceConfig {
                    wakeup_bytes,
                    ..config.clone()
                };
                let f = KernelFacts {
                    vfs: if vfs { facts.vfs } else { VfsFields::default() },
                    ..*facts
                };
                let mut plan = plan(&c, &f);
                plan.programs = every.clone();
                let off: Vec<&str> = [
                    (!btf).then_some("btf"),
                    (!vfs).then_some("vfs offsets"),
                    (!wakeup).then_some("wakeup"),
                ]
                .into_iter()
                .flatten()
                .collect();
                out.push(Combination {
                    label: combination_label(&off),
                    plan,
                    btf,
                });
            }
        }
    }
    out
}
