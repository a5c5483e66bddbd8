//! Loads the embedded `kotel-file-open` object, writes the watched prefixes and the kernel
//! filter, and attaches the programs.
//!
//! Contract: [`attach`] either returns a [`Kernel`] whose programs are attached, or a
//! [`ComponentError::Startup`] saying what to fix. Prefixes are in the trie before any
//! program attaches, and for each syscall the exit program attaches before the enter
//! program, so every remembered open has its exit handler. `openat` is required; `openat2`,
//! `open` and `creat` attach where the kernel has their tracepoints (`open` and `creat` do
//! not exist on arm64) and are skipped with a log line otherwise. Dropping the [`Kernel`]
//! detaches everything and frees the maps.

use std::path::Path;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::programs::TracePoint;
use aya::{Ebpf, EbpfLoader};
use kotel_common::file_open::{names, PATH_MAX_BYTES};

use super::config::FileOpenSourceConfig;
use crate::kernel::load::{prepare, startup};
use crate::pipeline::ComponentError;
use crate::sources::kernel_filter::KernelFilter;

/// The kernel object built by `collector/build.rs` (empty with `AYA_BUILD_SKIP=1`).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kotel-file-open"));

/// Where tracefs may be mounted (aya looks in the same places).
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The loaded object; the programs stay attached while this lives.
pub struct Kernel {
    /// Maps and the attached programs.
    pub ebpf: Ebpf,
    /// The filter maps, taken out of `ebpf`.
    pub filter: KernelFilter,
}

fn error(msg: String) -> ComponentError {
    ComponentError::Startup(msg)
}

/// Loads, fills the maps from `config` and attaches; see the module contract.
pub fn attach(config: &FileOpenSourceConfig) -> Result<Kernel, ComponentError> {
    prepare(OBJECT, config.validate())?;
    let wakeup = u64::from(config.wakeup_bytes);
    let mut ebpf = EbpfLoader::new()
        .override_global(names::WAKEUP_BYTES, &wakeup, true)
        .map_max_entries(names::EVENTS, config.ring_buffer_bytes)
        .load(OBJECT)
        .map_err(|e| startup("loading the file_open kernel object", &e))?;
    let mut filter = KernelFilter::take(&mut ebpf, Path::new(""))?;
    filter.apply(&config.filter)?;
    write_prefixes(&mut ebpf, &config.paths)?;
    let syscalls = attach_programs(&mut ebpf)?;
    tracing::info!(
        prefixes = config.paths.len(),
        ring_buffer_bytes = config.ring_buffer_bytes,
        wakeup_bytes = config.wakeup_bytes,
        "file_open source attached to syscalls:sys_{{enter,exit}}_{{{}}}",
        syscalls.join(",")
    );
    Ok(Kernel { ebpf, filter })
}

/// The trie key of a prefix: its length in bits and its bytes, zero padded. Callers pass
/// validated prefixes (at most `PATH_MAX_BYTES - 1` bytes).
pub fn prefix_key(prefix: &str) -> Key<[u8; PATH_MAX_BYTES]> {
    let mut data = [0u8; PATH_MAX_BYTES];
    let n = prefix.len().min(PATH_MAX_BYTES - 1);
    data[..n].copy_from_slice(&prefix.as_bytes()[..n]);
    Key::new(n as u32 * 8, data)
}

/// Writes every prefix into the trie, valued by its index in `paths` (a repeated prefix
/// keeps its last index).
fn write_prefixes(ebpf: &mut Ebpf, paths: &[String]) -> Result<(), ComponentError> {
    let map = ebpf
        .map_mut(names::PREFIXES)
        .ok_or_else(|| error(format!("map {} missing from the object", names::PREFIXES)))?;
    let mut trie: LpmTrie<_, [u8; PATH_MAX_BYTES], u32> =
        LpmTrie::try_from(map).map_err(|e| startup("prefix map", &e))?;
    for (i, p) in paths.iter().enumerate() {
        trie.insert(&prefix_key(p), i as u32, 0)
            .map_err(|e| startup(&format!("writing prefix {p:?}"), &e))?;
    }
    Ok(())
}

/// True when tracefs has `syscalls:<name>`.
fn tracepoint_exists(name: &str) -> bool {
    TRACEFS
        .iter()
        .any(|root| Path::new(root).join("events/syscalls").join(name).exists())
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut TracePoint, ComponentError> {
    let program: &mut TracePoint = ebpf
        .program_mut(name)
        .ok_or_else(|| error(format!("program {name} missing from the object")))?
        .try_into()
        .map_err(|e| startup("program type", &e))?;
    if program.fd().is_err() {
        program
            .load()
            .map_err(|e| startup(&format!("loading program {name}"), &e))?;
    }
    Ok(program)
}

/// Attaches exit then enter for each syscall of `names::HOOKS` the kernel has; returns
/// the syscalls attached.
fn attach_programs(ebpf: &mut Ebpf) -> Result<Vec<&'static str>, ComponentError> {
    let mut attached = Vec::new();
    for (enter, syscall) in names::HOOKS {
        let (enter_tp, exit_tp) = (
            format!("sys_enter_{syscall}"),
            format!("sys_exit_{syscall}"),
        );
        if syscall != "openat" && !(tracepoint_exists(&enter_tp) && tracepoint_exists(&exit_tp)) {
            tracing::info!("file_open source: this kernel has no {syscall} tracepoints; skipped");
            continue;
        }
        for (prog, tp) in [(names::PROG_EXIT, &exit_tp), (enter, &enter_tp)] {
            program(ebpf, prog)?
                .attach(names::CATEGORY, tp)
                .map_err(|e| startup(&format!("attaching {prog} to syscalls:{tp}"), &e))?;
        }
        attached.push(syscall);
    }
    Ok(attached)
}
