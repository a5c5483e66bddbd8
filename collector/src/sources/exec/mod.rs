//! The `exec` source: every successful exec from `sched:sched_process_exec`, with pid,
//! ppid, uid, cgroup id, comm, the executed path and argv.
//!
//! A kernel program (`ebpf/probes/src/bin/kotel-exec`) writes one fixed-size record per
//! exec into a ring buffer, argv cut to a byte budget and flagged when cut; this module
//! loads it ([`loader`]), decodes the records ([`decode`]) and batches them into the
//! pipeline ([`reader`], over the generic [`ring`] parts).
//!
//! Contract: [`ExecSource::new`] touches nothing outside the process (config validation
//! and unit tests need no root). [`Source::run`] loads, applies the kernel filter and
//! attaches (failures are `ComponentError::Startup` with the reason), emits `Event::Exec`
//! batches until shutdown, then detaches and returns `Ok(())`.

mod config;
mod decode;
mod loader;
pub mod plan;
mod reader;

pub use config::{ExecSourceConfig, HookChoice, MIN_RING_BUFFER_BYTES, RECORD_BYTES};
pub use decode::{decode, split_args, DecodeError};
pub use loader::Hook;
pub use plan::{task_offsets_from, wakeup_policy};
pub use reader::KERNEL_EVENTS;

use crate::kernel::source::{KernelProgram, KernelSource};
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, SourceOutput};
use crate::sources::kernel_filter::{FilterUpdates, KernelFilterConfig};

/// The `exec` kernel program: successful execs.
pub struct Exec;

/// The `exec` source, built from its config; attaches to the kernel only in `run`.
pub type ExecSource = KernelSource<Exec>;

impl KernelProgram for Exec {
    type Config = ExecSourceConfig;

    fn filter(config: &ExecSourceConfig) -> &KernelFilterConfig {
        &config.filter
    }

    fn run(
        source: String,
        config: ExecSourceConfig,
        out: SourceOutput,
        shutdown: Shutdown,
        filter_updates: FilterUpdates,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        Box::pin(async move {
            let kernel = loader::attach(&source, &config)?;
            tracing::debug!(source = %source, hook = ?kernel.hook, "exec source running");
            reader::run(&source, kernel, &config, out, shutdown, filter_updates).await
        })
    }
}

#[cfg(test)]
mod tests;
