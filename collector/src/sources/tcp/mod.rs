//! The `tcp` source: connection lifecycle from `sock:inet_sock_set_state`, and connection
//! quality aggregated in the kernel per cgroup.
//!
//! Kernel programs (`ebpf/probes/src/bin/kotel-tcp/`) turn state changes into connect,
//! accept, failed-connect and close records with the owning process (remembered at
//! connect/listen time; close records carry bytes, RTTs, retransmits and resets) and send
//! them through a ring buffer; a `tp_btf/tcp_probe` program folds RTT samples, and the
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
pub mod plan;
mod reader;

pub use config::TcpSourceConfig;
pub use decode::{decode, ClockOffset, DecodeError};
pub use metrics::{counters_from, histograms_from, Interval};
pub use offsets::TcpSockFields;

use crate::kernel::source::{KernelProgram, KernelSource};
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, SourceOutput};
use crate::sources::kernel_filter::{FilterUpdates, KernelFilterConfig};

/// The `tcp` kernel program: connection lifecycle, RTT and counters.
pub struct Tcp;

/// The `tcp` source, built from its config; attaches to the kernel only in `run`.
pub type TcpSource = KernelSource<Tcp>;

impl KernelProgram for Tcp {
    type Config = TcpSourceConfig;

    fn filter(config: &TcpSourceConfig) -> &KernelFilterConfig {
        &config.filter
    }

    fn run(
        source: String,
        config: TcpSourceConfig,
        out: SourceOutput,
        shutdown: Shutdown,
        filter_updates: FilterUpdates,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        Box::pin(async move {
            let kernel = loader::attach(&source, &config)?;
            tracing::debug!(source = %source, "tcp source running");
            reader::run(&source, kernel, &config, out, shutdown, filter_updates).await
        })
    }
}

#[cfg(test)]
mod tests;
