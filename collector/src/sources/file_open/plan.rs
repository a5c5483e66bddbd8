//! What the `file_open` source loads on a kernel: its object with the wakeup policy as a
//! global, and an enter and an exit program for each open syscall the kernel has.
//!
//! Contract: [`plan`] is the one place that turns a config and the kernel's syscall
//! tracepoints into globals and a program list; the loader loads exactly that, and `kotel
//! doctor` and the load-combination test verify exactly that. For each syscall the exit
//! program comes before the enter program (so every remembered open has its exit
//! handler); `openat` is always planned, the others only where the kernel has both of
//! their tracepoints (`open` and `creat` do not exist on arm64), and every planned program
//! is required. [`every_switch`]
//! enumerates the load-time switches (the wakeup policy on or off).

use kotel_common::file_open::names;

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

/// The plan for `config` on the running kernel.
pub fn plan(config: &FileOpenSourceConfig) -> LoadPlan {
    let wakeup = u64::from(config.wakeup_bytes);
    let spec = ObjectSpec::new("file_open", OBJECT)
        .global(names::WAKEUP_BYTES, &wakeup)
        .map_size(names::EVENTS, config.ring_buffer_bytes);
    let mut programs = Vec::new();
    let mut left_out = Vec::new();
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
        // Both hooks of a planned syscall are required: an enter without its exit would
        // remember opens nobody completes.
        for program in [exit, enter] {
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

/// One plan per combination of the load-time switches (the wakeup policy on or off, BTF
/// present or not), each with every program of the object.
pub fn every_switch(config: &FileOpenSourceConfig) -> Vec<Combination> {
    let every: Vec<Planned> = names::HOOKS
        .iter()
        .flat_map(|h| {
            [
                syscall_tracepoint(names::PROG_EXIT, h.exit),
                syscall_tracepoint(h.enter_program, h.enter),
            ]
        })
        .map(|program| Planned {
            program,
            need: Need::Required,
        })
        .collect();
    let mut out = Vec::new();
    for (wakeup, wakeup_bytes) in [(true, config.wakeup_bytes.max(1)), (false, 0)] {
        for btf in [true, false] {
            let c = FileOpenSourceConfig {
                wakeup_bytes,
                ..config.clone()
            };
            let mut plan = plan(&c);
            plan.programs = every.clone();
            let off: Vec<&str> = [(!btf).then_some("btf"), (!wakeup).then_some("wakeup")]
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
    out
}
