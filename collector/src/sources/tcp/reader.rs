//! The tcp source's read loop: the shared ring-buffer reader ([`crate::kernel::reader`])
//! with tcp's decode and stats, plus the in-kernel histograms and counters read and
//! reset every `metrics_interval` ([`AggMaps::collect`]).
//!
//! Contract: see the shared reader; stats go to `kotel.source.tcp.kernel_events{source,stat}`
//! and `kotel.ebpf.ringbuf.lost{source}`; the last (partial) interval is emitted at
//! shutdown. On return the [`Kernel`] is dropped, which detaches the programs.

use std::time::Duration;

use aya::maps::{Array, PerCpuArray, PerCpuHashMap};
use kotel_common::maps;
use kotel_common::tcp::TcpStat;

use super::config::TcpSourceConfig;
use super::decode::{decode_with, ClockOffset};
use super::loader::Kernel;
use super::metrics::AggMaps;
use crate::event::Event;
use crate::kernel::reader::{read_object, Periodic, RingSpec};
use crate::kernel::task_names::TaskNames;
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, SourceOutput};
use crate::sources::kernel_filter::FilterUpdates;
use crate::telemetry::names;

/// The aggregation maps, read every `metrics_interval`.
struct Intervals {
    agg: AggMaps,
    every: Duration,
}

impl Periodic for Intervals {
    fn interval(&self) -> Option<Duration> {
        Some(self.every)
    }
    fn collect(&mut self) -> BoxFuture<'_, Vec<Event>> {
        Box::pin(self.agg.collect())
    }
    fn filter_changed(&mut self) {
        self.agg.filter_changed();
    }
}

/// Runs until shutdown; see the module contract.
pub async fn run(
    source: &str,
    mut kernel: Kernel,
    config: &TcpSourceConfig,
    out: SourceOutput,
    shutdown: Shutdown,
    filter_updates: FilterUpdates,
) -> Result<(), ComponentError> {
    let input =
        |what: &str, e: &dyn std::fmt::Display| ComponentError::Input(format!("{what}: {e}"));
    let mut map = |name: &str| {
        kernel
            .ebpf
            .take_map(name)
            .ok_or_else(|| input("map missing", &name))
    };
    let agg = AggMaps::new(
        PerCpuArray::try_from(map(maps::TCP_HIST)?).map_err(|e| input("histogram map", &e))?,
        config.histogram_rows,
        PerCpuHashMap::try_from(map(maps::TCP_COUNTERS)?).map_err(|e| input("counters map", &e))?,
        Array::try_from(map(maps::TCP_CONTROL)?).map_err(|e| input("control map", &e))?,
    );
    let spec = RingSpec {
        source: source.to_string(),
        events_map: maps::TCP_EVENTS,
        stats_map: maps::TCP_STATS,
        metric: names::TCP_KERNEL_EVENTS,
        stats: TcpStat::ALL.map(TcpStat::name).to_vec(),
        ringbuf_full: TcpStat::RingbufFull as usize,
        batch_max_events: config.batch_max_events,
        batch_timeout: config.batch_timeout,
    };
    let mut names = TaskNames::default();
    let decode = move |record: &[u8], clock: &ClockOffset| {
        decode_with(record, clock, &mut names)
            .map(Event::Tcp)
            .map_err(|e| (e.reason(), e.to_string()))
    };
    let intervals = Intervals {
        agg,
        every: config.metrics_interval,
    };
    let (ebpf, filter) = (&mut kernel.ebpf, &mut kernel.filter);
    let result = read_object(
        spec,
        ebpf,
        filter,
        filter_updates,
        decode,
        intervals,
        out,
        shutdown,
    )
    .await;
    drop(kernel); // detaches the programs
    result
}
