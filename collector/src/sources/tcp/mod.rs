//! The `tcp` source: connection lifecycle from `sock:inet_sock_set_state`, and connection
//! quality aggregated in the kernel per cgroup.
//!
//! Kernel programs (`ebpf/probes/src/bin/kotel-tcp/`) turn state changes into connect,
//! accept, failed-connect and close records with the owning process (remembered at
//! connect/listen time; close records carry bytes, RTTs, retransmits and resets) and send
//! them through a ring buffer; a cgroup `sock_ops` program folds RTT samples, and the
//! lifecycle program connect latencies, into per-cgroup histograms; tracepoints count
//! retransmits and resets per connection and per cgroup. This module loads them
//! ([`loader`], [`offsets`]), decodes the records ([`decode`]), batches them into the
//! pipeline ([`reader`]) and reads the aggregates each `metrics_interval` ([`metrics`]).
//!
//! Contract: [`TcpSource::new`] touches nothing outside the process (config validation and
//! unit tests need no root). [`Source::run`] loads and attaches (failures are
//! `ComponentError::Startup` with the reason, e.g. missing privileges), emits `Event::Tcp`
//! batches, and `Event::Histogram` (`tcp_rtt`, `tcp_connect_latency`) and
//! `Event::TcpCounters` records per cgroup and interval, until shutdown; then it emits the
//! last partial interval, detaches and returns `Ok(())`.

mod config;
mod decode;
mod loader;
mod metrics;
mod offsets;
mod reader;

pub use config::TcpSourceConfig;
pub use decode::{decode, ClockOffset, DecodeError};
pub use metrics::{counters_from, histograms_from, Interval};
pub use offsets::sock_offsets;

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
