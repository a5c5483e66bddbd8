//! Loads the embedded `kotel-exec` object and attaches one of its two programs to
//! `sched_process_exec`.
//!
//! Contract: [`attach`] either returns a [`Kernel`] whose program is attached and whose
//! filter maps hold the config's filter, or a [`ComponentError::Startup`] saying what to
//! fix (bad config, a kotel built without kernel programs, missing privileges, verifier
//! rejection). It prefers the BTF tracepoint program (direct loads, the cheaper one) and
//! falls back to the classic tracepoint when the kernel's BTF is missing or that program
//! does not load or attach, logging which it chose ([`Kernel::hook`]). Without usable BTF
//! ppid is 0 and argv is flagged unread (one warning). Dropping the [`Kernel`] detaches
//! the program and frees its maps.

use std::path::Path;

use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};
use kotel_common::exec::{names, TaskOffsets, Wakeup};

use super::config::{ExecSourceConfig, HookChoice, RECORD_BYTES};
use crate::kernel::btf::{Btf, BtfError};
use crate::kernel::load::{prepare, startup};
use crate::pipeline::ComponentError;
use crate::sources::kernel_filter::KernelFilter;

/// The kernel object built by `collector/build.rs` (empty with `AYA_BUILD_SKIP=1`).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kotel-exec"));

/// Which program is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `tp_btf/sched_process_exec` ([`names::PROGRAM_BTF`]).
    BtfTracepoint,
    /// `tracepoint/sched/sched_process_exec` ([`names::PROGRAM`]).
    Tracepoint,
}

/// The loaded object; the program stays attached while this lives.
pub struct Kernel {
    /// Ring buffer, stats map and the attached program.
    pub ebpf: Ebpf,
    /// The filter maps, taken out of `ebpf`.
    pub filter: KernelFilter,
    /// The program that is attached.
    pub hook: Hook,
}

/// Loads the object with the config's sizes and the running kernel's offsets, applies the
/// filter, and attaches.
pub fn attach(config: &ExecSourceConfig) -> Result<Kernel, ComponentError> {
    prepare(OBJECT, config.validate())?;
    let offsets = task_offsets();
    let wakeup = wakeup_policy(config, possible_cpus());
    let mut ebpf = EbpfLoader::new()
        .override_global(names::TASK_OFFSETS, &offsets, true)
        .override_global(names::WAKEUP, &wakeup, true)
        .map_max_entries(names::EVENTS, config.ring_buffer_bytes)
        .load(OBJECT)
        .map_err(|e| startup("loading the exec kernel object", &e))?;
    // The filter is in place before the program sees its first exec.
    let mut filter = KernelFilter::take(&mut ebpf, Path::new(""))?;
    filter.apply(&config.filter)?;
    let hook = match config.hook {
        HookChoice::Tracepoint => attach_classic(&mut ebpf).map(|()| Hook::Tracepoint)?,
        HookChoice::TpBtf => attach_btf(&mut ebpf, offsets.valid != 0)
            .map(|()| Hook::BtfTracepoint)
            .map_err(|why| ComponentError::Startup(format!("hook tp_btf: {why}")))?,
        HookChoice::Auto => match attach_btf(&mut ebpf, offsets.valid != 0) {
            Ok(()) => Hook::BtfTracepoint,
            Err(why) => {
                tracing::info!("exec source: using the classic tracepoint ({why})");
                attach_classic(&mut ebpf)?;
                Hook::Tracepoint
            }
        },
    };
    tracing::info!(
        ring_buffer_bytes = config.ring_buffer_bytes,
        wakeup_bytes = wakeup.bytes,
        wakeup_check_every = wakeup.check_every,
        ppid_and_argv = offsets.valid != 0,
        ?hook,
        "exec source attached to sched_process_exec",
    );
    Ok(Kernel { ebpf, filter, hook })
}

/// Loads and attaches the BTF tracepoint program; the error says why it cannot be used.
fn attach_btf(ebpf: &mut Ebpf, have_offsets: bool) -> Result<(), String> {
    if !have_offsets {
        return Err("no kernel BTF offsets".into());
    }
    let btf = aya::Btf::from_sys_fs().map_err(|e| format!("kernel BTF: {e}"))?;
    let program: &mut BtfTracePoint = ebpf
        .program_mut(names::PROGRAM_BTF)
        .ok_or("program missing from the object")?
        .try_into()
        .map_err(|e| format!("program type: {e}"))?;
    program
        .load(names::TRACEPOINT, &btf)
        .map_err(|e| startup("loading the BTF tracepoint program", &e).to_string())?;
    program
        .attach()
        .map(drop)
        .map_err(|e| format!("attaching tp_btf/{}: {e}", names::TRACEPOINT))
}

fn attach_classic(ebpf: &mut Ebpf) -> Result<(), ComponentError> {
    let program: &mut TracePoint = ebpf
        .program_mut(names::PROGRAM)
        .ok_or_else(|| {
            ComponentError::Startup(format!(
                "program {} missing from the object",
                names::PROGRAM
            ))
        })?
        .try_into()
        .map_err(|e| startup("program type", &e))?;
    program
        .load()
        .map_err(|e| startup("loading the exec program", &e))?;
    program
        .attach(names::CATEGORY, names::TRACEPOINT)
        .map(drop)
        .map_err(|e| startup("attaching to sched:sched_process_exec", &e))
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

/// Offsets of the task, cred, mm and binprm fields the programs read, from
/// /sys/kernel/btf/vmlinux, or `valid == 0` with a warning saying why.
pub fn task_offsets() -> TaskOffsets {
    match task_offsets_from(Btf::from_sys_fs()) {
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
pub fn task_offsets_from(btf: Result<Btf, BtfError>) -> Result<TaskOffsets, BtfError> {
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
    })
}
