//! The `tcp` source: connection lifecycle from `sock:inet_sock_set_state`, and connection
//! quality aggregated in the kernel per cgroup.
//!
//! Kernel programs (`ebpf/probes/src/bin/kotel-tcp/`) turn state changes into connect,
//! accept, failed-connect and close records with the owning process (remembered at
//! connect/listen time; close records carry bytes, RTTs, retransmits and resets) and send
//! them through a ring buffer; a `tp_btf/tcp_probe` program folds RTT samples, and the
//! lifecycle program connect latencies, into per-cgroup histograms; tracepoints count
//! retransmits and resets per connection and per cgroup. This module loads them
//! ([`loader`], [`offsets`]), decodes the records ([`decode`]) and reads the aggregates
//! each `metrics_interval` ([`metrics`]); the shared kernel layer reads the ring buffer.
//!
//! Contract: [`TcpSource::new`] touches nothing outside the process (config validation and
//! unit tests need no root). [`Source::run`](crate::component::Source::run) loads and
//! attaches (failures are `ComponentError::Startup` with the reason, e.g. missing
//! privileges), emits `Event::Tcp` batches, and `Event::Histogram` (`tcp_rtt`,
//! `tcp_connect_latency`) and `Event::TcpCounters` records per cgroup and interval, until
//! shutdown; then it emits the last partial interval, detaches and returns `Ok(())`.
//! Stats go to `kotel.source.tcp.kernel_events{source,stat}` and
//! `kotel.ebpf.ringbuf.lost{source}`.

mod config;
mod decode;
mod loader;
mod metrics;
mod offsets;
pub mod plan;

pub use config::TcpSourceConfig;
pub use decode::{decode, ClockOffset, DecodeError};
pub use metrics::{counters_from, histograms_from, Interval};
pub use offsets::TcpSockFields;

use kotel_common::maps;
use kotel_common::tcp::TcpStat;

use crate::component::ComponentError;
use crate::event::Event;
use crate::kernel::batcher::DecodeFailure;
use crate::kernel::source::{
    one_event, ring_settings, Attached, KernelProgram, KernelSource, KernelSourceConfig,
    RecordDecoder, RingMaps,
};
use crate::kernel::spec::LoadPlan;
use crate::kernel::task_names::TaskNames;
use crate::settings::{ConfigError, Signal};
use crate::telemetry::names;

/// The `tcp` kernel program: connection lifecycle, RTT and counters.
pub struct Tcp;

/// The `tcp` source, built from its config; attaches to the kernel only in `run`.
pub type TcpSource = KernelSource<Tcp>;

/// Decodes tcp records, remembering process names across records.
pub struct TcpDecoder {
    names: TaskNames,
}

impl RecordDecoder for TcpDecoder {
    fn decode(
        &mut self,
        record: &[u8],
        clock: &ClockOffset,
        out: &mut Vec<Event>,
    ) -> Result<(), DecodeFailure> {
        one_event(
            decode::decode_with(record, clock, &mut self.names),
            decode::DecodeError::reason,
            Event::Tcp,
            out,
        )
    }
}

impl KernelProgram for Tcp {
    type Config = TcpSourceConfig;
    type Held = ();
    type Decoder = TcpDecoder;
    type Periodic = metrics::Intervals;

    fn ring() -> RingMaps {
        RingMaps {
            events_map: maps::TCP_EVENTS,
            stats_map: maps::TCP_STATS,
            metric: names::TCP_KERNEL_EVENTS,
            stats: TcpStat::ALL.map(TcpStat::name).to_vec(),
            ringbuf_full: TcpStat::RingbufFull as usize,
        }
    }

    fn attach(source: &str, config: &TcpSourceConfig) -> Result<Attached<()>, ComponentError> {
        loader::attach(source, config)
    }

    fn reader(
        _: &str,
        config: &TcpSourceConfig,
        attached: &mut Attached<()>,
    ) -> Result<(TcpDecoder, metrics::Intervals), ComponentError> {
        let intervals = metrics::Intervals::take(
            &mut attached.ebpf,
            config.histogram_rows,
            config.metrics_interval,
        )?;
        let decoder = TcpDecoder {
            names: TaskNames::default(),
        };
        Ok((decoder, intervals))
    }
}

impl KernelSourceConfig for TcpSourceConfig {
    type Program = Tcp;
    const KIND: &'static str = "tcp";
    const SIGNALS: &'static [Signal] = &[Signal::Metrics, Signal::Logs];

    fn problems(&self) -> Vec<ConfigError> {
        self.validate()
    }

    fn plan(&self) -> LoadPlan {
        plan::plan(self, &plan::KernelFacts::of_running_kernel())
    }

    ring_settings!();
}

#[cfg(test)]
mod tests;
