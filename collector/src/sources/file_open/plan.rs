//! What the `file_open` source loads on a kernel: its object with the wakeup policy, the
//! VFS offsets and where the arguments are as globals, and the programs for each open
//! syscall the kernel has.
//!
//! Contract: [`plan`] is the one place that turns a config and the kernel's syscall
//! tracepoints into globals and a program list; the loader loads exactly that, and `kotel
//! doctor` and the load-combination test verify exactly that. Where the exit can read the
//! arguments from the task's registers ([`super::regs`]), each syscall gets its exit
//! program only; elsewhere the enter program comes before the exit program (so an exit
//! finds the arguments of every open it sees; an enter whose exit is not attached yet only
//! leaves a slot the next open overwrites). `openat` is always planned, the others only
//! where the kernel has both of their tracepoints (`open` and `creat` do not exist on
//! arm64), and every planned program is required. [`every_switch`] enumerates the
//! load-time switches (the wakeup policy on or off, the VFS offsets known or not, the
//! arguments in the registers or the table).

use kotel_common::file_open::{names, SyscallRegs};
use kotel_common::vfs::VfsFields;

use super::config::FileOpenSourceConfig;
use crate::kernel::attach::hook_exists;
use crate::kernel::spec::{
    combination_label, Attach, Combination, LoadPlan, Need, ObjectSpec, Planned, ProgramSpec,
};

/// The kernel object built by `collector/build.rs` (empty with `AYA_BUILD_SKIP=1`), with
/// its kfunc placeholders (loaded only after [`crate::kernel::kfunc::patched`]).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kotel-file-open"));

/// The kernel object as built, before its kfunc calls are patched.
pub fn object_bytes() -> &'static [u8] {
    OBJECT
}

/// The object to load on a kernel with `facts`: its kfunc calls patched to
/// `bpf_rdonly_cast` where the exit uses it (with the registers), else to `r0 = 0`, so that
/// the kernel never checks a kfunc call the program does not make.
pub(super) fn object(facts: &KernelFacts) -> &'static [u8] {
    let used = facts.cast.filter(|_| facts.regs.valid != 0);
    crate::kernel::kfunc::patched(OBJECT, used.map(|c| c.kfunc))
}

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
    /// Where the exit reads the arguments (`valid == 0`: the enter programs keep them).
    pub regs: SyscallRegs,
    /// `bpf_rdonly_cast` (6.2+), with which the exit reads a file from a grown descriptor
    /// table through BTF pointers too.
    pub cast: Option<FileCast>,
}

/// The BTF ids the exit's casts need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileCast {
    /// `bpf_rdonly_cast`'s id: the call the object's placeholders are patched to.
    pub kfunc: u32,
    /// `struct file`'s id: what the exit casts to.
    pub file: u32,
}

impl FileCast {
    /// Both ids in `btf`, `None` where the kernel has no `bpf_rdonly_cast` (before 6.2).
    pub fn in_btf(btf: &crate::kernel::btf::Btf) -> Option<Self> {
        Some(Self {
            kfunc: btf.function_id(kotel_common::kfunc::RDONLY_CAST)?,
            file: btf.struct_id("file")?,
        })
    }
}

impl KernelFacts {
    /// What to load with, best first, should the verifier refuse the better: these facts,
    /// then without the cast, then without the registers (the enter programs keep the
    /// arguments, the way every kernel since 5.8 loads the source).
    pub fn attempts(self) -> Vec<KernelFacts> {
        let mut out = vec![self];
        if self.cast.is_some() {
            out.push(KernelFacts { cast: None, ..self });
        }
        if self.regs.valid != 0 {
            out.push(KernelFacts {
                cast: None,
                regs: SyscallRegs::UNKNOWN,
                ..self
            });
        }
        out
    }

    /// The running kernel's facts (one warning when its VFS offsets are missing); `proc`
    /// is where the host's `/proc` is mounted (`<host_root>/proc`).
    pub fn of_running_kernel(proc: &std::path::Path) -> Self {
        let btf = crate::kernel::shared_btf::ours();
        let (vfs, missing) = crate::kernel::vfs_fields::of_parsed(&btf);
        if let Some(why) = missing {
            tracing::warn!(
                "file_open source: no VFS offsets ({why}): opens are matched by the path \
                 the process passed, unresolved"
            );
        }
        let (regs, why) = super::regs::of_running_kernel(&btf);
        if let Some(why) = why {
            tracing::debug!("file_open source: enter programs keep the arguments ({why})");
        }
        let cast = btf.as_deref().ok().and_then(FileCast::in_btf);
        Self {
            vfs,
            own_tgid: crate::node::process::own_tgid(proc),
            regs,
            cast,
        }
    }
}

/// The plan for `config` on a kernel with `facts`.
pub fn plan(config: &FileOpenSourceConfig, facts: &KernelFacts) -> LoadPlan {
    let wakeup = u64::from(config.wakeup_bytes);
    let in_regs = facts.regs.valid != 0;
    // The cast is used only with the registers' helpers (it reads what they lead to).
    let cast_file = facts.cast.filter(|_| in_regs).map_or(0, |c| c.file);
    let mut spec = ObjectSpec::new("file_open", object(facts))
        .global(names::WAKEUP_BYTES, &wakeup)
        .global(names::VFS_FIELDS, &facts.vfs)
        .global(names::OWN_TGID, &facts.own_tgid)
        .global(names::REGS, &facts.regs)
        .global(names::FILE_BTF_ID, &cast_file)
        .map_size(names::EVENTS, config.ring_buffer_bytes);
    if in_regs {
        spec = spec.map_size(names::ARGS, 1); // no enter program writes it
    }
    let mut programs = Vec::new();
    let mut left_out = Vec::new();
    let mut method = Vec::new();
    if facts.vfs.valid != 0 {
        method.push(
            "opens are matched by what they open: the file behind the returned descriptor \
             (fd -> file -> dentry, VFS offsets from BTF) at the syscall tracepoints; BPF LSM \
             is not used (the tracepoints work on every kernel, LSM needs `bpf` in the \
             kernel's lsm= list)"
                .to_string(),
        );
    } else {
        left_out.push(
            "no VFS offsets (kernel BTF): opens are matched by the path the process passed, \
             unresolved (relative paths, links and `..` are not followed)"
                .to_string(),
        );
    }
    method.push(if in_regs {
        format!(
            "one program per open: the exit reads the arguments from the task's saved \
             registers (bpf_task_pt_regs), only for a failed or reported open; it reads the \
             opened file through BTF pointers {}",
            if cast_file != 0 {
                "for every process (bpf_rdonly_cast)"
            } else {
                "while the process's descriptor table has not grown (no bpf_rdonly_cast, 6.2+)"
            }
        )
    } else {
        "two programs per open: the enter programs keep the arguments for the exit (the \
         exit reads them itself from 6.1 on x86_64 with BTF)"
            .to_string()
    });
    for (i, hooks) in names::HOOKS.iter().enumerate() {
        let exit = syscall_tracepoint(names::PROG_EXIT, hooks.exit);
        let enter = syscall_tracepoint(hooks.enter_program, hooks.enter);
        let present =
            hook_exists(&exit.attach, None) && (in_regs || hook_exists(&enter.attach, None));
        if i > 0 && !present {
            left_out.push(format!(
                "this kernel has no {} tracepoints: opens through {}() are not seen",
                hooks.syscall, hooks.syscall
            ));
            continue;
        }
        // Every program of a planned syscall is required: an exit without its enter (when
        // the enter keeps the arguments) would report every match without them.
        let planned = if in_regs {
            vec![exit]
        } else {
            vec![enter, exit]
        };
        for program in planned {
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
            plan.programs.iter().any(
                |p| matches!(p.program.attach, Attach::TracePoint { name, .. } if name == h.exit),
            )
        })
        .map(|h| h.syscall)
        .collect()
}

/// One plan per combination of the load-time switches (the wakeup policy on or off, the VFS
/// offsets known or not, BTF present or not, the arguments in the registers or not), each
/// with every program of the object.
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
                // Registers need BTF (the helper takes a BTF task pointer), the cast needs
                // the registers.
                for (regs, cast) in [
                    (facts.regs.valid != 0 && btf, facts.cast.is_some() && btf),
                    (facts.regs.valid != 0 && btf, false),
                    (false, false),
                ] {
                    let c = FileOpenSourceConfig {
                        wakeup_bytes,
                        ..config.clone()
                    };
                    let f = KernelFacts {
                        vfs: if vfs { facts.vfs } else { VfsFields::default() },
                        regs: if regs {
                            facts.regs
                        } else {
                            SyscallRegs::UNKNOWN
                        },
                        cast: facts.cast.filter(|_| cast),
                        ..*facts
                    };
                    let mut plan = plan(&c, &f);
                    plan.programs = every.clone();
                    let off: Vec<&str> = [
                        (!btf).then_some("btf"),
                        (!vfs).then_some("vfs offsets"),
                        (!wakeup).then_some("wakeup"),
                        (!regs).then_some("registers"),
                        (!cast).then_some("cast"),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    if out
                        .iter()
                        .any(|o: &Combination| o.label == combination_label(&off))
                    {
                        continue; // a switch the kernel lacks: the same combination twice
                    }
                    out.push(Combination {
                        label: combination_label(&off),
                        plan,
                        btf,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
