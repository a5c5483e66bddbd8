//! What the `exec` source loads on a kernel: its object with the task offsets and the
//! wakeup policy as globals, and which of its two programs it attaches.
//!
//! Contract: [`plan`] is the one place that turns a config and the kernel's facts
//! ([`KernelFacts`]) into globals and a program list; the loader loads exactly that, and
//! `kotel doctor` and the load-combination test verify exactly that. With `hook: auto` the
//! BTF tracepoint program comes first and the classic one is its fallback; without the
//! kernel's BTF offsets only the classic one is planned. [`every_switch`] enumerates every
//! combination of the load-time switches a kernel can produce.

use kotel_common::exec::{names, TaskOffsets, Wakeup};
use kotel_common::vfs::VfsFields;

use super::config::{ExecSourceConfig, HookChoice, RECORD_BYTES};
use crate::kernel::btf::{Btf, BtfError};
use crate::kernel::spec::{Attach, Combination, LoadPlan, Need, ObjectSpec, Planned, ProgramSpec};

/// The kernel object built by `collector/build.rs` (empty with `AYA_BUILD_SKIP=1`).
pub(super) static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kotel-exec"));

/// `tp_btf/sched_process_exec`: direct loads from the task (the cheaper one).
pub const BTF_PROGRAM: ProgramSpec = ProgramSpec {
    name: names::PROGRAM_BTF,
    attach: Attach::BtfTracePoint {
        name: names::TRACEPOINT,
    },
};

/// `sched:sched_process_exec`: helpers and probing reads; runs without BTF.
pub const CLASSIC: ProgramSpec = ProgramSpec {
    name: names::PROGRAM,
    attach: Attach::TracePoint {
        category: names::CATEGORY,
        name: names::TRACEPOINT,
    },
};

/// What the running kernel decides about the programs before they load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFacts {
    /// Task, mm, cred and binprm offsets (`valid == 0`: no ppid and argv, and no BTF
    /// program).
    pub offsets: TaskOffsets,
    /// Possible CPUs (the wakeup policy is sized by them).
    pub cpus: u32,
    /// VFS offsets (`valid == 0`: events carry no executable path or working directory).
    pub vfs: VfsFields,
}

impl KernelFacts {
    /// The running kernel's facts (one warning when its BTF offsets are missing), from one
    /// parse of its BTF.
    pub fn of_running_kernel() -> Self {
        let btf = crate::kernel::shared_btf::ours();
        let (vfs, missing) = crate::kernel::vfs_fields::of_parsed(&btf);
        if let Some(why) = missing {
            tracing::warn!(
                "exec source: no VFS offsets ({why}): events carry no resolved executable \
                 path and no working directory"
            );
        }
        Self {
            offsets: task_offsets(btf),
            cpus: possible_cpus(),
            vfs,
        }
    }
}

/// The plan for `config` on a kernel with `facts`.
pub fn plan(config: &ExecSourceConfig, facts: &KernelFacts) -> LoadPlan {
    plan_with_wakeup(config, facts, wakeup_policy(config, facts.cpus))
}

fn plan_with_wakeup(config: &ExecSourceConfig, facts: &KernelFacts, wakeup: Wakeup) -> LoadPlan {
    let spec = ObjectSpec::new("exec", OBJECT)
        .global(names::TASK_OFFSETS, &facts.offsets)
        .global(names::WAKEUP, &wakeup)
        .global(names::VFS_FIELDS, &facts.vfs)
        .map_size(names::EVENTS, config.ring_buffer_bytes);
    let btf = facts.offsets.valid != 0;
    let mut left_out = Vec::new();
    if !btf {
        left_out.push("no kernel BTF offsets: exec events carry ppid 0 and no argv".to_string());
    }
    if facts.vfs.valid == 0 {
        left_out.push(
            "no VFS offsets: exec events carry no resolved executable path and no working \
             directory"
                .to_string(),
        );
    }
    if config.hook == HookChoice::Auto && !btf {
        left_out.push(format!(
            "{} left out (it needs the kernel's BTF); {} runs",
            BTF_PROGRAM.name, CLASSIC.name
        ));
    }
    let programs = match config.hook {
        HookChoice::Tracepoint => vec![planned(CLASSIC, Need::Required)],
        HookChoice::TpBtf => vec![planned(BTF_PROGRAM, Need::Required)],
        HookChoice::Auto if btf => vec![
            planned(BTF_PROGRAM, Need::Required),
            planned(CLASSIC, Need::Fallback),
        ],
        HookChoice::Auto => vec![planned(CLASSIC, Need::Required)],
    };
    LoadPlan {
        spec,
        programs,
        left_out,
        method: Vec::new(),
    }
}

fn planned(program: ProgramSpec, need: Need) -> Planned {
    Planned { program, need }
}

/// One plan per combination of the load-time switches a kernel can produce (the task
/// offsets valid or not; the VFS offsets valid or not; no wakeup policy, one checked on every record, one checked on
/// every 16th), each with every program that combination can load (`hook: auto`).
pub fn every_switch(config: &ExecSourceConfig, facts: &KernelFacts) -> Vec<Combination> {
    let mut c = config.clone();
    c.hook = HookChoice::Auto;
    let wakeups = [
        ("wakeup off", Wakeup::default()),
        (
            "wakeup every record",
            Wakeup {
                bytes: u64::from(RECORD_BYTES) * 64,
                check_every: 1,
            },
        ),
        (
            "wakeup every 16th record",
            Wakeup {
                bytes: u64::from(RECORD_BYTES) * 64,
                check_every: MAX_CHECK_EVERY,
            },
        ),
    ];
    let mut offsets = vec![("no offsets", TaskOffsets::default())];
    if facts.offsets.valid != 0 {
        offsets.push(("offsets", facts.offsets));
    }
    let mut vfs = vec![("no vfs offsets", VfsFields::default())];
    if facts.vfs.valid != 0 {
        vfs.push(("vfs offsets", facts.vfs));
    }
    let mut plans = Vec::new();
    for (o_label, o) in offsets {
        for (v_label, v) in &vfs {
            for (w_label, w) in wakeups {
                let f = KernelFacts {
                    offsets: o,
                    vfs: *v,
                    ..*facts
                };
                plans.push(Combination {
                    label: format!("{o_label}, {v_label}, {w_label}"),
                    plan: plan_with_wakeup(&c, &f, w),
                    btf: o.valid != 0,
                });
            }
        }
    }
    plans
}
/// Most records a CPU submits between two backlog checks.
const MAX_CHECK_EVERY: u64 = 16;

/// The kernel's [`Wakeup`] policy for `config` on `cpus` CPUs: wake at a backlog of
/// `wakeup_events` records, checked every `check_every` records per CPU, where
/// `check_every` is at most 16 and small enough that what every CPU may submit unchecked
/// past the threshold still fits in the ring. `wakeup_events == 0` wakes on every record.
pub fn wakeup_policy(config: &ExecSourceConfig, cpus: u32) -> Wakeup {
    if config.wakeup_events == 0 {
        return Wakeup::default();
    }
    let ring_records = u64::from(config.ring_buffer_bytes / RECORD_BYTES);
    let headroom = ring_records.saturating_sub(u64::from(config.wakeup_events));
    Wakeup {
        bytes: u64::from(config.wakeup_events) * u64::from(RECORD_BYTES),
        check_every: (headroom / u64::from(cpus.max(1))).clamp(1, MAX_CHECK_EVERY),
    }
}

/// Number of possible CPUs (what per-CPU maps size by), 1 when unknown.
fn possible_cpus() -> u32 {
    aya::util::nr_cpus().map_or(1, |n| n as u32)
}

/// Offsets of the task, cred, mm and binprm fields the programs read, from the kernel's
/// BTF, or `valid == 0` with a warning saying why.
fn task_offsets(btf: Result<std::sync::Arc<Btf>, BtfError>) -> TaskOffsets {
    match task_offsets_from(btf.as_deref().map_err(Clone::clone)) {
        Ok(o) => {
            tracing::debug!(?o, "task offsets from BTF");
            o
        }
        Err(e) => {
            tracing::warn!(
                "exec source: ppid and argv unknown, events carry ppid 0 and no args ({e})"
            );
            TaskOffsets::default()
        }
    }
}

/// [`task_offsets`] from already-parsed (or failed) BTF.
pub fn task_offsets_from(btf: Result<&Btf, BtfError>) -> Result<TaskOffsets, BtfError> {
    let btf = btf?;
    let task = |field| btf.offset_of("task_struct", &[field]);
    Ok(TaskOffsets {
        valid: 1,
        task_real_parent: task("real_parent")?,
        task_tgid: task("tgid")?,
        task_mm: task("mm")?,
        mm_arg_start: btf.offset_of("mm_struct", &["arg_start"])?,
        mm_arg_end: btf.offset_of("mm_struct", &["arg_end"])?,
        task_comm: task("comm")?,
        task_real_cred: task("real_cred")?,
        cred_uid: btf.offset_of("cred", &["uid"])?,
        bprm_filename: btf.offset_of("linux_binprm", &["filename"])?,
        bprm_interp: btf.offset_of("linux_binprm", &["interp"])?,
        mm_exe_file: btf.offset_of("mm_struct", &["exe_file"])?,
    })
}
