//! Loads the `l7` source's [`plan`](super::plan) and attaches its programs.
//!
//! Contract: [`attach`] either returns an [`Attached`] whose programs are attached and
//! whose filter maps hold the config's filter, or an error: [`ComponentError::Rejected`]
//! when the verifier refuses a program (not retried), [`ComponentError::Startup`]
//! otherwise (bad config, no kernel BTF for the socket offsets, a kotel built without
//! kernel programs, missing privileges). Dropping the [`Attached`] detaches the programs
//! and frees the maps.

use std::path::Path;

use super::config::L7SourceConfig;
use super::plan::{plan, KernelFacts, OBJECT};
use crate::component::ComponentError;
use crate::kernel::attach::load_and_attach;
use crate::kernel::filter::KernelFilter;
use crate::kernel::load::prepare;
use crate::kernel::source::Attached;

/// Loads the object with the config's sizes and the running kernel's offsets, applies the
/// filter, and attaches. `source` is the component id.
pub fn attach(source: &str, config: &L7SourceConfig) -> Result<Attached<()>, ComponentError> {
    prepare(OBJECT, config.validate())?;
    let facts = KernelFacts::of_running_kernel(&config.proc_dir());
    if let Some(why) = facts.missing() {
        return Err(ComponentError::Startup(format!("l7 source: {why}")));
    }
    let plan = plan(config, &facts);
    let (loaded, filter) = load_and_attach(source, &plan, None, |ebpf| {
        let mut filter = KernelFilter::take(ebpf, Path::new(""))?;
        filter.apply(&config.filter)?;
        Ok(filter)
    })?;
    tracing::info!(
        component = %source,
        programs = loaded.attached.len(),
        capture_bytes = config.capture_bytes,
        own_pid = facts.own_tgid,
        "l7 source attached to the socket syscalls",
    );
    crate::kernel::shared_btf::return_freed_memory();
    Ok(Attached {
        held: (),
        filter,
        ebpf: loaded.ebpf,
    })
}
