//! The `exec` source's kernel programs: one [`ExecRecord`] per successful exec, from
//! `sched_process_exec`. Built for `bpfel-unknown-none` by `collector/build.rs` (aya-build)
//! and embedded into the agent, which loads exactly one of the two entry points:
//! `kotel_exec_btf` (BTF tracepoint: direct loads from the task, preferred) or `kotel_exec`
//! (classic tracepoint: helpers and probing reads, the fallback).
//!
//! Contract (what user space can rely on):
//! - The tracepoint fires only after the new image is committed, so failed execs never
//!   produce a record. pid is the thread-group id after the exec (a non-leader thread that
//!   execs takes over the group's pid), uid the real uid, comm the new task name.
//! - The path is `bprm->filename` (the path given to exec); argv is read from the new
//!   process's own memory (`mm->arg_start..arg_end`), so it is exactly what the program
//!   received (interpreters of `#!` scripts included) and no state is kept between
//!   tracepoints: nothing per process exists for an exit to clean up.
//! - ppid (`real_parent->tgid`) and argv need `KOTEL_EXEC_TASK_OFFSETS`; without them (only
//!   the classic program can run then) ppid is 0 and argv is flagged unread. Filters run
//!   before anything is reserved; dropped execs count as `Filtered`. Nothing aborts: every
//!   failure increments an [`ExecStat`] counter.
#![no_std]
#![no_main]

mod classic;
mod fill;
mod view;

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::bpf_get_current_cgroup_id,
    macros::{btf_tracepoint, map, tracepoint},
    maps::{PerCpuArray, RingBuf},
    programs::{BtfTracePointContext, TracePointContext},
    Global,
};
use kotel_common::exec::{names, ExecRecord, ExecStat, TaskOffsets, Wakeup};
use kotel_common::str_eq;
use kotel_common::vfs::VfsFields;
use kotel_probes::filter::allows_process;
use kotel_probes::vfs::Span;

use classic::TracepointView;
use view::{BtfView, View};

kotel_probes::program_object!();

/// Records to user space. Size set by the agent (`ring_buffer_bytes`).
#[map]
static KOTEL_EXEC_EVENTS: RingBuf = RingBuf::with_byte_size(1 << 20, 0);
/// Per-CPU `u64` counters indexed by [`ExecStat`].
#[map]
static KOTEL_EXEC_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(ExecStat::COUNT, 0);
/// Scratch for the VFS reads of the path walks (kept off the stack).
#[map]
static KOTEL_EXEC_SCRATCH: PerCpuArray<Span> = PerCpuArray::with_max_entries(1, 0);
/// VFS offsets of the running kernel; `valid == 0`: no executable or working directory.
#[unsafe(no_mangle)]
static KOTEL_EXEC_VFS_FIELDS: Global<VfsFields> = Global::new(VfsFields::UNKNOWN);

/// Offsets for direct loads, ppid and argv; `valid == 0` means ppid and argv are not read.
#[unsafe(no_mangle)]
static KOTEL_EXEC_TASK_OFFSETS: Global<TaskOffsets> = Global::new(TaskOffsets {
    valid: 0,
    task_real_parent: 0,
    task_tgid: 0,
    task_mm: 0,
    mm_arg_start: 0,
    mm_arg_end: 0,
    task_comm: 0,
    task_real_cred: 0,
    cred_uid: 0,
    bprm_filename: 0,
    bprm_interp: 0,
    mm_exe_file: 0,
});
/// When to wake the reader; all zero = on every record.
#[unsafe(no_mangle)]
static KOTEL_EXEC_WAKEUP: Global<Wakeup> = Global::new(Wakeup {
    bytes: 0,
    check_every: 0,
});

/// Fails the build when an identifier the aya macros turn into an object-file name differs
/// from the shared constant user space looks it up by.
const _: () = {
    assert!(str_eq(names::EVENTS, "KOTEL_EXEC_EVENTS"));
    assert!(str_eq(names::STATS, "KOTEL_EXEC_STATS"));
    assert!(str_eq(names::TASK_OFFSETS, "KOTEL_EXEC_TASK_OFFSETS"));
    assert!(str_eq(names::WAKEUP, "KOTEL_EXEC_WAKEUP"));
    assert!(str_eq(names::VFS_FIELDS, "KOTEL_EXEC_VFS_FIELDS"));
    assert!(str_eq(names::SCRATCH, "KOTEL_EXEC_SCRATCH"));
    assert!(str_eq(names::PROGRAM, "kotel_exec"));
    assert!(str_eq(names::PROGRAM_BTF, "kotel_exec_btf"));
    assert!(str_eq(names::TRACEPOINT, "sched_process_exec"));
};

#[btf_tracepoint(function = "sched_process_exec")]
pub fn kotel_exec_btf(ctx: BtfTracePointContext) -> u32 {
    match try_exec(&BtfView::new(&ctx)) {
        Ok(r) | Err(r) => r,
    }
}

#[tracepoint]
pub fn kotel_exec(ctx: TracePointContext) -> u32 {
    match try_exec(&TracepointView::new(&ctx)) {
        Ok(r) | Err(r) => r,
    }
}

/// Increments one per-CPU stats counter; returns its new value on this CPU (0 when the
/// map lookup failed, which it cannot for an index below `ExecStat::COUNT`).
#[inline(always)]
fn count(stat: ExecStat) -> u64 {
    match KOTEL_EXEC_STATS.get_ptr_mut(stat as u32) {
        // SAFETY: per-CPU slot of this CPU; a racing nested program may lose one increment.
        Some(p) => unsafe {
            *p += 1;
            *p
        },
        None => 0,
    }
}

/// Ring-buffer flags for the `n`-th record emitted on this CPU (see [`Wakeup`]).
#[inline(always)]
fn wakeup_flags(n: u64) -> u64 {
    let policy = KOTEL_EXEC_WAKEUP.load();
    if policy.bytes == 0 {
        return 0;
    }
    if policy.check_every > 1 && !n.is_multiple_of(policy.check_every) {
        return BPF_RB_NO_WAKEUP as u64;
    }
    if KOTEL_EXEC_EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= policy.bytes {
        count(ExecStat::Wakeup);
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}

#[inline(always)]
fn try_exec<V: View>(view: &V) -> Result<u32, u32> {
    // SAFETY: no preconditions; the exec'ing task is current.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    let comm = view.comm();
    if !allows_process(cgroup_id, &comm) {
        count(ExecStat::Filtered);
        return Ok(0);
    }
    let Some(mut entry) = KOTEL_EXEC_EVENTS.reserve::<ExecRecord>(0) else {
        count(ExecStat::RingbufFull);
        return Ok(0);
    };
    // SAFETY: reserve returned EXEC_RECORD_SIZE writable bytes aligned for ExecRecord.
    unsafe { fill::record(view, entry.as_mut_ptr(), cgroup_id, comm) };
    let n = count(ExecStat::Emitted);
    entry.submit(wakeup_flags(n));
    Ok(0)
}
