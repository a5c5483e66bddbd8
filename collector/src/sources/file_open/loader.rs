//! Loads the `file_open` source's [`plan`](super::plan), writes the watched paths (the
//! prefix trie, and the inodes of one full resolution pass) and the kernel filter, and
//! attaches the programs.
//!
//! Contract: [`attach`] either returns an [`Attached`] whose programs are attached, or an
//! error: [`ComponentError::Rejected`] when the verifier refuses a program of the simplest
//! way the kernel offers (a refusal of a better way is counted, logged and followed by the
//! next, see `KernelFacts::attempts`), [`ComponentError::Startup`] otherwise. The watched paths are in the maps before any
//! program attaches, and for each syscall the enter program (where the plan has one)
//! attaches before the exit program (see the plan for which syscalls). Its `held` [`Running`] follower keeps the
//! inodes current (spawned on the caller's runtime). Dropping the [`Attached`] detaches everything and frees the maps.

use std::path::Path;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::Ebpf;
use kotel_common::file_open::{names, prefix_value, PATH_MAX_BYTES};

use super::config::FileOpenSourceConfig;
use super::follow::{Follower, Running, Trigger};
use super::plan::{object_bytes, plan, syscalls, KernelFacts};
use super::watch_maps::WatchMaps;
use crate::component::ComponentError;
use crate::kernel::attach::load_and_attach;
use crate::kernel::filter::KernelFilter;
use crate::kernel::load::{prepare, startup};
use crate::kernel::source::Attached;

fn error(msg: String) -> ComponentError {
    ComponentError::Startup(msg)
}

/// Loads, fills the maps from `config` and attaches; see the module contract. `source`
/// is the component id.
pub fn attach(
    source: &str,
    config: &FileOpenSourceConfig,
) -> Result<Attached<Running>, ComponentError> {
    // tracefs first: the plan takes the syscalls whose tracepoints it shows.
    prepare(object_bytes(), config.validate())?;
    let proc = config.proc_dir();
    let attempts = KernelFacts::of_running_kernel(&proc).attempts();
    let mut attempt = 0;
    let (plan, loaded, (filter, follower)) = loop {
        let plan = plan(config, &attempts[attempt]);
        let result = load_and_attach(source, &plan, None, |ebpf| {
            let mut filter = KernelFilter::take(ebpf, Path::new(""))?;
            filter.apply(&config.filter)?;
            write_prefixes(ebpf, &config.paths)?;
            let mut follower =
                Follower::new(source, &config.paths, proc.clone(), WatchMaps::take(ebpf)?);
            follower.resolve(Trigger::Start);
            Ok((filter, follower))
        });
        match result {
            Ok((loaded, filled)) => break (plan, loaded, filled),
            // Refused (and counted): try the simpler way this kernel also offers.
            Err(e @ ComponentError::Rejected { .. }) if attempt + 1 < attempts.len() => {
                tracing::warn!(component = %source, "{e}; loading the simpler way");
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    for left_out in &plan.left_out {
        tracing::info!(component = %source, "file_open source: {left_out}");
    }
    tracing::info!(
        component = %source,
        watched_paths = config.paths.len(),
        ring_buffer_bytes = config.ring_buffer_bytes,
        wakeup_bytes = config.wakeup_bytes,
        "file_open source attached to syscalls:{}_{{{}}}",
        if plan.programs.iter().any(|p| p.program.name != names::PROG_EXIT) {
            "sys_{enter,exit}"
        } else {
            "sys_exit"
        },
        syscalls(&plan).join(",")
    );
    crate::kernel::shared_btf::return_freed_memory();
    Ok(Attached {
        held: follower.spawn(config.rescan_interval),
        filter,
        ebpf: loaded.ebpf,
    })
}

/// The trie key of a prefix: its length in bits and its bytes, zero padded. Callers pass
/// validated prefixes (at most `PATH_MAX_BYTES - 1` bytes).
pub fn prefix_key(prefix: &str) -> Key<[u8; PATH_MAX_BYTES]> {
    let mut data = [0u8; PATH_MAX_BYTES];
    let n = prefix.len().min(PATH_MAX_BYTES - 1);
    data[..n].copy_from_slice(&prefix.as_bytes()[..n]);
    Key::new(n as u32 * 8, data)
}

/// Writes every watched path into the trie, valued by its index in `paths` and its length
/// (a repeated path keeps its last index).
fn write_prefixes(ebpf: &mut Ebpf, paths: &[String]) -> Result<(), ComponentError> {
    let map = ebpf
        .map_mut(names::PREFIXES)
        .ok_or_else(|| error(format!("map {} missing from the object", names::PREFIXES)))?;
    let mut trie: LpmTrie<_, [u8; PATH_MAX_BYTES], u32> =
        LpmTrie::try_from(map).map_err(|e| startup("prefix map", &e))?;
    for (i, p) in paths.iter().enumerate() {
        let key = prefix_key(p);
        trie.insert(&key, prefix_value(i as u32, key.prefix_len() / 8), 0)
            .map_err(|e| startup(&format!("writing prefix {p:?}"), &e))?;
    }
    Ok(())
}
