//! Loads the `exec` source's [`plan`](super::plan) and attaches one of its two programs
//! to `sched_process_exec`.
//!
//! Contract: [`attach`] either returns an [`Attached`] whose program is attached and whose
//! filter maps hold the config's filter, or an error: [`ComponentError::Rejected`] when the
//! verifier refuses the program the source depends on (not retried),
//! [`ComponentError::Startup`] otherwise (bad config, a kotel built without kernel
//! programs, missing privileges). With `hook: auto` it prefers the BTF tracepoint program
//! (direct loads, the cheaper one) and falls back to the classic tracepoint when the
//! kernel's BTF is missing or that program is refused or does not attach (a refusal is
//! logged and counted), logging which it chose (its `held` [`Hook`]). Without usable BTF ppid
//! is 0 and argv is flagged unread (one warning). Dropping the [`Attached`] detaches the
//! program and frees its maps.

use std::path::Path;

use kotel_common::exec::names;

use super::config::{ExecSourceConfig, HookChoice};
use super::plan::{plan, KernelFacts, OBJECT};
use crate::component::ComponentError;
use crate::kernel::attach::load_and_attach;
use crate::kernel::filter::KernelFilter;
use crate::kernel::load::prepare;
use crate::kernel::source::Attached;

/// Which program is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `tp_btf/sched_process_exec` ([`names::PROGRAM_BTF`]).
    BtfTracepoint,
    /// `tracepoint/sched/sched_process_exec` ([`names::PROGRAM`]).
    Tracepoint,
}

/// Loads the object with the config's sizes and the running kernel's offsets, applies the
/// filter, and attaches. `source` is the component id.
pub fn attach(source: &str, config: &ExecSourceConfig) -> Result<Attached<Hook>, ComponentError> {
    prepare(OBJECT, config.validate())?;
    let facts = KernelFacts::of_running_kernel();
    let plan = plan(config, &facts);
    if config.hook == HookChoice::TpBtf && facts.offsets.valid == 0 {
        return Err(ComponentError::Startup(
            "hook tp_btf: no kernel BTF offsets (/sys/kernel/btf/vmlinux)".into(),
        ));
    }
    let btf = crate::kernel::shared_btf::aya();
    // The filter is in place before the program sees its first exec.
    let (loaded, filter) = load_and_attach(source, &plan, btf.as_deref(), |ebpf| {
        let mut filter = KernelFilter::take(ebpf, Path::new(""))?;
        filter.apply(&config.filter)?;
        Ok(filter)
    })?;
    let hook = if loaded
        .attached
        .iter()
        .any(|a| a.starts_with(names::PROGRAM_BTF))
    {
        Hook::BtfTracepoint
    } else {
        Hook::Tracepoint
    };
    tracing::info!(
        component = %source,
        ring_buffer_bytes = config.ring_buffer_bytes,
        ppid_and_argv = facts.offsets.valid != 0,
        ?hook,
        "exec source attached to sched_process_exec",
    );
    drop(btf);
    crate::kernel::shared_btf::return_freed_memory();
    Ok(Attached {
        held: hook,
        filter,
        ebpf: loaded.ebpf,
    })
}
