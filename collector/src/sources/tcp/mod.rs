//! The `tcp` source: connection lifecycle from `sock:inet_sock_set_state`.
//!
//! A kernel program (`ebpf/probes/src/bin/kotel-tcp/`) turns state changes into connect, accept,
//! failed-connect and close records with the owning process (remembered at connect/listen
//! time) and sends them through a ring buffer; this module loads it ([`loader`]), decodes
//! the records ([`decode`]) and batches them into the pipeline ([`reader`]).
//!
//! Contract: [`TcpSource::new`] touches nothing outside the process (config validation and
//! unit tests need no root). [`Source::run`] loads and attaches (failures are
//! `ComponentError::Startup` with the reason, e.g. missing privileges), emits
//! `Event::Tcp` batches until shutdown, then detaches and returns `Ok(())`.

mod batcher;
mod config;
mod decode;
mod loader;
mod reader;

pub use config::TcpSourceConfig;
pub use decode::{decode, ClockOffset, DecodeError};
pub use loader::sock_offsets;

use tokio::sync::watch;

use crate::config::ComponentId;
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, Source, SourceOutput};
use crate::sources::kernel_filter::{FilterUpdates, KernelFilterConfig};

/// The `tcp` source, built from its config; attaches to the kernel only in `run`.
pub struct TcpSource {
    id: ComponentId,
    config: TcpSourceConfig,
    filter_updates: FilterUpdates,
}

impl TcpSource {
    /// A source for `id` with `config`; no kernel access.
    pub fn new(id: &ComponentId, config: &TcpSourceConfig) -> Self {
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

impl Source for TcpSource {
    fn run(
        self: Box<Self>,
        out: SourceOutput,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        Box::pin(async move {
            let kernel = loader::attach(&self.config)?;
            tracing::debug!(source = %self.id, "tcp source running");
            reader::run(
                &self.id.to_string(),
                kernel,
                &self.config,
                out,
                shutdown,
                self.filter_updates,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests;
