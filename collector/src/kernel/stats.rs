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

use crate::kernel::source::RingMaps;
use crate::telemetry::names;

/// Turns the kernel's cumulative per-CPU counters into metric increments.
pub struct KernelStats {
    map: PerCpuArray<MapData, u64>,
    source: String,
    maps: RingMaps,
    last: Vec<u64>,
    counters: Vec<Counter>,
    lost: Counter,
}

impl KernelStats {
    /// Reports the counters of `map` (the stats map `maps` names) with `source` as label.
    pub fn new(map: PerCpuArray<MapData, u64>, source: String, maps: RingMaps) -> Self {
        let counters = maps
            .stats
            .iter()
            .map(|s| metrics::counter!(maps.metric, "source" => source.clone(), "stat" => *s))
            .collect();
        let lost = metrics::counter!(names::RINGBUF_LOST, "source" => source.clone());
        Self {
            map,
            last: vec![0; maps.stats.len()],
            source,
            maps,
            counters,
            lost,
        }
    }

    /// Reads every counter and adds the growth since the last poll.
    pub fn poll(&mut self) {
        for (i, stat) in self.maps.stats.iter().enumerate() {
            let total = match self.map.get(&(i as u32), 0) {
                Ok(per_cpu) => per_cpu.iter().sum::<u64>(),
                Err(e) => {
                    tracing::debug!("{} source: reading stat {stat}: {e}", self.source);
                    continue;
                }
            };
            let delta = total.saturating_sub(self.last[i]);
            self.last[i] = total;
            if delta > 0 {
                self.counters[i].increment(delta);
                if i == self.maps.ringbuf_full {
                    self.lost.increment(delta);
                }
            }
        }
    }
}
