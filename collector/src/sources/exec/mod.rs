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
mod reader;

pub use config::{ExecSourceConfig, HookChoice, MIN_RING_BUFFER_BYTES, RECORD_BYTES};
pub use decode::{decode, split_args, DecodeError};
pub use loader::{task_offsets, task_offsets_from, wakeup_policy, Hook};
pub use reader::{KERNEL_EVENTS, SOURCE};

use tokio::sync::watch;

use crate::config::ComponentId;
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, Source, SourceOutput};
use crate::sources::kernel_filter::{FilterUpdates, KernelFilterConfig};

/// The `exec` source, built from its config; attaches to the kernel only in `run`.
pub struct ExecSource {
    id: ComponentId,
    config: ExecSourceConfig,
    filter_updates: FilterUpdates,
}

impl ExecSource {
    /// A source for `id` with `config`; no kernel access.
    pub fn new(id: &ComponentId, config: &ExecSourceConfig) -> Self {
        Self {
            id: id.clone(),
            config: config.clone(),
            filter_updates: FilterUpdates::none(),
        }
    }

    /// A handle that replaces the kernel filter while the source runs (no reload); the
    /// source starts with `filter` from its config.
    pub fn filter_control(&mut self) -> watch::Sender<KernelFilterConfig> {
        let (tx, updates) = FilterUpdates::channel(self.config.filter.clone());
        self.filter_updates = updates;
        tx
    }

    /// The component id this source was built for.
    pub fn id(&self) -> &ComponentId {
        &self.id
    }
}

impl Source for ExecSource {
    fn run(
        self: Box<Self>,
        out: SourceOutput,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        Box::pin(async move {
            let kernel = loader::attach(&self.config)?;
            tracing::debug!(source = %self.id, hook = ?kernel.hook, "exec source running");
            reader::run(kernel, &self.config, out, shutdown, self.filter_updates).await
        })
    }
}

#[cfg(test)]
mod tests;
