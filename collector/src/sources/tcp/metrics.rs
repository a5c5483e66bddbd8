//! The kernel's aggregation maps -> per-interval records: `Event::Histogram`
//! (`tcp_rtt`, `tcp_connect_latency`) and `Event::TcpCounters`, one per cgroup.
//!
//! Contract (read-and-reset by double buffering, see `kotel_common::tcp_quality`): each
//! [`AggMaps::collect`] flips the phase the kernel writes in, waits [`FLIP_GRACE`] for
//! programs still writing the old phase, then reads every row and counter entry of the old
//! phase (all CPUs), sums them per cgroup, and resets them (rows zeroed = free, counter
//! entries deleted). So each record holds exactly the samples taken between two flips —
//! `start_time_unix_nano`/`time_unix_nano` (histograms), `interval_ns` (counters) are the
//! wall-clock times of those flips — and no sample is counted twice or lost (except one
//! whose program was still running [`FLIP_GRACE`] after a flip). Cgroups without samples in
//! an interval emit nothing for it.

use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;
use std::time::Duration;

use aya::maps::{Array, MapData, PerCpuArray, PerCpuHashMap, PerCpuValues};
use aya::Ebpf;
use aya::Pod;
use kotel_common::maps;
use kotel_common::tcp_quality::{
    metric, CounterKey, CounterValue, HistRow, CONTROL_FILTER_EPOCH, CONTROL_PHASE, MIN_INDEX,
    SCALE, SLOTS,
};

use crate::component::{BoxFuture, ComponentError};
use crate::event::{unix_now, CgroupHistogram, Event, HistogramMetric, TcpCounters};
use crate::kernel::source::Periodic;

/// How long a flip waits before the old phase is read: far longer than any program run.
pub const FLIP_GRACE: Duration = Duration::from_millis(5);

/// The wall-clock span of one read, in ns since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// The previous flip (or the attach).
    pub start_unix_nano: u64,
    /// This flip.
    pub end_unix_nano: u64,
}

/// One histogram per (cgroup, metric) from the rows of one phase (every CPU's copy; free
/// rows and rows of unknown metrics are skipped). Buckets are summed, never re-binned.
pub fn histograms_from(
    rows: impl IntoIterator<Item = HistRow>,
    interval: Interval,
) -> Vec<CgroupHistogram> {
    struct Sum {
        counts: [u64; SLOTS],
        zero: u64,
        sum_ns: u64,
    }
    let mut by_owner: BTreeMap<(u64, u32), Sum> = BTreeMap::new();
    for row in rows {
        if metric_of(row.metric).is_none() {
            continue;
        }
        let sum = by_owner.entry((row.cgroup_id, row.metric)).or_insert(Sum {
            counts: [0; SLOTS],
            zero: 0,
            sum_ns: 0,
        });
        for (total, n) in sum.counts.iter_mut().zip(row.counts) {
            *total += u64::from(n);
        }
        sum.zero += u64::from(row.zero_count);
        sum.sum_ns = sum.sum_ns.wrapping_add(row.sum_ns);
    }
    by_owner
        .into_iter()
        .filter_map(|((cgroup_id, m), sum)| {
            let used = |(_, n): &(usize, &u64)| **n > 0;
            let first = sum.counts.iter().enumerate().find(used).map(|(i, _)| i);
            let last = sum.counts.iter().enumerate().rfind(used).map(|(i, _)| i);
            let (offset, bucket_counts) = match (first, last) {
                (Some(f), Some(l)) => (MIN_INDEX + f as i32, sum.counts[f..=l].to_vec()),
                _ => (0, Vec::new()),
            };
            let count = sum.zero + bucket_counts.iter().sum::<u64>();
            (count > 0).then(|| CgroupHistogram {
                workload: None,
                metric: metric_of(m).expect("filtered above"),
                time_unix_nano: interval.end_unix_nano,
                start_time_unix_nano: interval.start_unix_nano,
                cgroup_id,
                scale: SCALE,
                offset,
                bucket_counts,
                zero_count: sum.zero,
                count,
                sum: sum.sum_ns as f64 / 1e9,
            })
        })
        .collect()
}

fn metric_of(m: u32) -> Option<HistogramMetric> {
    match m {
        metric::RTT => Some(HistogramMetric::TcpRtt),
        metric::CONNECT_LATENCY => Some(HistogramMetric::TcpConnectLatency),
        _ => None,
    }
}

/// One `TcpCounters` per cgroup from the counter entries of one phase (summed over CPUs);
/// all-zero entries are skipped.
pub fn counters_from(
    entries: impl IntoIterator<Item = (CounterKey, CounterValue)>,
    interval: Interval,
) -> Vec<TcpCounters> {
    let mut by_cgroup: BTreeMap<u64, CounterValue> = BTreeMap::new();
    for (key, v) in entries {
        let c = by_cgroup.entry(key.cgroup_id).or_default();
        c.retransmits += v.retransmits;
        c.resets_sent += v.resets_sent;
        c.resets_received += v.resets_received;
    }
    by_cgroup
        .into_iter()
        .filter(|(_, c)| *c != CounterValue::default())
        .map(|(cgroup_id, c)| TcpCounters {
            workload: None,
            time_unix_nano: interval.end_unix_nano,
            interval_ns: interval
                .end_unix_nano
                .saturating_sub(interval.start_unix_nano),
            cgroup_id,
            retransmits: c.retransmits,
            resets_sent: c.resets_sent,
            resets_received: c.resets_received,
        })
        .collect()
}

/// Values of the counter map, summed over CPUs.
fn add(total: &mut CounterValue, o: &CounterValue) {
    total.retransmits = total.retransmits.wrapping_add(o.retransmits);
    total.resets_sent = total.resets_sent.wrapping_add(o.resets_sent);
    total.resets_received = total.resets_received.wrapping_add(o.resets_received);
}

/// Reads and deletes the entries of `map` whose key `in_phase`; values summed over CPUs.
/// Entries that vanish or fail to read are skipped (logged at debug).
fn drain<K: Pod + Eq + Hash>(
    map: &mut PerCpuHashMap<MapData, K, CounterValue>,
    in_phase: impl Fn(&K) -> bool,
) -> Vec<(K, CounterValue)> {
    // A hash walk restarts when an entry vanishes under it: dedupe the keys.
    let keys: HashSet<K> = map
        .keys()
        .filter_map(Result::ok)
        .filter(|k| in_phase(k))
        .collect();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        match map.get(&key, 0) {
            Ok(per_cpu) => {
                let mut total = CounterValue::default();
                per_cpu.iter().for_each(|v| add(&mut total, v));
                out.push((key, total));
            }
            Err(e) => tracing::debug!("tcp source: reading an aggregation entry: {e}"),
        }
        if let Err(e) = map.remove(&key) {
            tracing::debug!("tcp source: deleting an aggregation entry: {e}");
        }
    }
    out
}

/// Reads every CPU's copy of rows `first..first + rows` and frees (zeroes) those in use.
/// Rows that fail to read or reset are skipped (logged at debug).
fn drain_rows(map: &mut PerCpuArray<MapData, HistRow>, first: u32, rows: u32) -> Vec<HistRow> {
    let mut out = Vec::new();
    for index in first..first + rows {
        let per_cpu = match map.get(&index, 0) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!("tcp source: reading histogram row {index}: {e}");
                continue;
            }
        };
        let used: Vec<HistRow> = per_cpu.iter().filter(|r| r.metric != 0).copied().collect();
        if used.is_empty() {
            continue;
        }
        out.extend(used);
        let free = PerCpuValues::try_from(vec![HistRow::FREE; per_cpu.len()])
            .map_err(|e| e.to_string())
            .and_then(|free| map.set(index, free, 0).map_err(|e| e.to_string()));
        if let Err(e) = free {
            tracing::debug!("tcp source: resetting histogram row {index}: {e}");
        }
    }
    out
}

/// The aggregation maps of a loaded object and the phase the kernel writes in.
pub struct AggMaps {
    hist: PerCpuArray<MapData, HistRow>,
    rows: u32,
    counters: PerCpuHashMap<MapData, CounterKey, CounterValue>,
    control: Array<MapData, u32>,
    phase: u32,
    filter_epoch: u32,
    last_flip: u64,
}

impl AggMaps {
    /// Takes over the maps (`hist` holds `rows` rows per phase; `control` is
    /// `KOTEL_TCP_CONTROL`); the first interval starts now (phase 0, filter epoch 0).
    pub fn new(
        hist: PerCpuArray<MapData, HistRow>,
        rows: u32,
        counters: PerCpuHashMap<MapData, CounterKey, CounterValue>,
        control: Array<MapData, u32>,
    ) -> Self {
        Self {
            hist,
            rows,
            counters,
            control,
            phase: 0,
            filter_epoch: 0,
            last_flip: unix_now(),
        }
    }

    /// Tells the programs that the kernel filter changed (call after it is in force): they
    /// recompute the verdicts they cached per socket. If this fails, cached verdicts keep
    /// the old filter until the next change (logged).
    pub fn filter_changed(&mut self) {
        self.filter_epoch = self.filter_epoch.wrapping_add(1);
        if let Err(e) = self.control.set(CONTROL_FILTER_EPOCH, self.filter_epoch, 0) {
            tracing::warn!("tcp source: cached filter verdicts not invalidated: {e}");
        }
    }

    /// Flips the phase, waits [`FLIP_GRACE`], and returns the records of the interval
    /// that just ended (see the module contract). If the flip fails, returns nothing and
    /// the samples stay for the next call.
    pub async fn collect(&mut self) -> Vec<Event> {
        let old = self.phase;
        if let Err(e) = self.control.set(CONTROL_PHASE, old ^ 1, 0) {
            tracing::warn!("tcp source: flipping the aggregation phase: {e}");
            return Vec::new();
        }
        self.phase = old ^ 1;
        let interval = Interval {
            start_unix_nano: self.last_flip,
            end_unix_nano: unix_now(),
        };
        self.last_flip = interval.end_unix_nano;
        tokio::time::sleep(FLIP_GRACE).await;
        let hist = drain_rows(&mut self.hist, old * self.rows, self.rows);
        let counters = drain(&mut self.counters, |k| k.phase == old);
        let mut events: Vec<Event> = histograms_from(hist, interval)
            .into_iter()
            .map(Event::Histogram)
            .collect();
        events.extend(
            counters_from(counters, interval)
                .into_iter()
                .map(Event::TcpCounters),
        );
        events
    }
}

/// The aggregation maps, read every `metrics_interval`: the tcp source's periodic work.
pub struct Intervals {
    agg: AggMaps,
    every: Duration,
}

impl Intervals {
    /// Takes the aggregation maps out of a loaded object (`rows` histogram rows per
    /// phase), to be read every `every`.
    pub fn take(ebpf: &mut Ebpf, rows: u32, every: Duration) -> Result<Self, ComponentError> {
        let input =
            |what: &str, e: &dyn std::fmt::Display| ComponentError::Input(format!("{what}: {e}"));
        let mut map = |name: &str| {
            ebpf.take_map(name)
                .ok_or_else(|| input("map missing", &name))
        };
        let agg = AggMaps::new(
            PerCpuArray::try_from(map(maps::TCP_HIST)?).map_err(|e| input("histogram map", &e))?,
            rows,
            PerCpuHashMap::try_from(map(maps::TCP_COUNTERS)?)
                .map_err(|e| input("counters map", &e))?,
            Array::try_from(map(maps::TCP_CONTROL)?).map_err(|e| input("control map", &e))?,
        );
        Ok(Self { agg, every })
    }
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

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
