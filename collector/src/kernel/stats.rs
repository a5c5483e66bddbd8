//! A kernel program's cumulative per-CPU counters -> `metrics` counter increments.
//!
//! Shared by the kernel sources: each counter index of
//! the stats map becomes one series `<metric>{source,stat=<name>}`, and the ring-buffer-full
//! counter also feeds `kotel.ebpf.ringbuf.lost{source}`.
//!
//! Contract: [`KernelStats::poll`] adds to each series the growth since the previous poll
//! (the first poll reports everything counted since load); a counter that cannot be read
//! is skipped for that poll (logged at debug) and caught up at the next one.

use aya::maps::{MapData, PerCpuArray};
use metrics::Counter;

use crate::telemetry::names;

/// Which counters a stats map holds and where they are reported.
#[derive(Clone, Debug)]
pub struct StatsSpec {
    /// Value of the `source` label (the component id).
    pub source: String,
    /// Metric of the per-stat series (e.g. `kotel.source.file_open.kernel_events`).
    pub metric: &'static str,
    /// The `stat` label of each counter, in map-index order.
    pub stats: Vec<&'static str>,
    /// Index of the "ring buffer full" counter.
    pub ringbuf_full: usize,
}

/// Turns the kernel's cumulative per-CPU counters into metric increments.
pub struct KernelStats {
    map: PerCpuArray<MapData, u64>,
    spec: StatsSpec,
    last: Vec<u64>,
    counters: Vec<Counter>,
    lost: Counter,
}

impl KernelStats {
    /// Reports the counters of `map` as `spec` says.
    pub fn new(map: PerCpuArray<MapData, u64>, spec: StatsSpec) -> Self {
        let counters = spec
            .stats
            .iter()
            .map(|s| metrics::counter!(spec.metric, "source" => spec.source.clone(), "stat" => *s))
            .collect();
        let lost = metrics::counter!(names::RINGBUF_LOST, "source" => spec.source.clone());
        Self {
            map,
            last: vec![0; spec.stats.len()],
            spec,
            counters,
            lost,
        }
    }

    /// Reads every counter and adds the growth since the last poll.
    pub fn poll(&mut self) {
        for (i, stat) in self.spec.stats.iter().enumerate() {
            let total = match self.map.get(&(i as u32), 0) {
                Ok(per_cpu) => per_cpu.iter().sum::<u64>(),
                Err(e) => {
                    tracing::debug!("{} source: reading stat {stat}: {e}", self.spec.source);
                    continue;
                }
            };
            let delta = total.saturating_sub(self.last[i]);
            self.last[i] = total;
            if delta > 0 {
                self.counters[i].increment(delta);
                if i == self.spec.ringbuf_full {
                    self.lost.increment(delta);
                }
            }
        }
    }
}
