//! The read loop: ring buffer -> decoded batches -> [`SourceOutput`], plus the kernel's
//! per-CPU counters -> self-telemetry.
//!
//! Contract: wakes when the kernel signals the ring buffer (tokio `AsyncFd` over aya's
//! `RingBuf`) and on a poll tick of `min(batch_timeout / 4, 50ms)` (records submitted without
//! a wakeup are picked up there); sends a batch when it holds `batch_max_events` or before
//! its oldest event is `batch_timeout` old; reads the stats map every second and adds the
//! deltas to `kotel.source.tcp.kernel_events{stat}` and `kotel.ebpf.ringbuf.lost{source}`.
//! Every `metrics_interval` it reads and resets the kernel's histograms and counters
//! ([`AggMaps::collect`]) and sends the records in batches of at most `batch_max_events`.
//! On shutdown it drains the ring, sends what it has, emits the last (partial) interval,
//! reads the stats a last time and drops the [`Kernel`] (detaching the programs) before
//! returning `Ok(())`.

use std::time::Duration;

use aya::maps::{Array, MapData, PerCpuArray, PerCpuHashMap, RingBuf};
use kotel_common::maps;
use kotel_common::tcp::TcpStat;
use metrics::Counter;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::MissedTickBehavior;

use super::batcher::Batcher;
use super::config::TcpSourceConfig;
use super::loader::Kernel;
use super::metrics::AggMaps;
use crate::event::Event;
use crate::pipeline::{ComponentError, Shutdown, SourceOutput};
use crate::sources::kernel_filter::FilterUpdates;
use crate::telemetry::names;

/// Most records handled per wakeup before yielding to the other branches.
const DRAIN_LIMIT: usize = 4096;

/// Runs until shutdown; see the module contract.
pub async fn run(
    source: &str,
    mut kernel: Kernel,
    config: &TcpSourceConfig,
    out: SourceOutput,
    mut shutdown: Shutdown,
    mut filter_updates: FilterUpdates,
) -> Result<(), ComponentError> {
    let mut map = |name| {
        kernel
            .ebpf
            .take_map(name)
            .ok_or_else(|| input(format!("map {name} missing")))
    };
    let ring = RingBuf::try_from(map(maps::TCP_EVENTS)?)
        .map_err(|e| input(format!("ring buffer: {e}")))?;
    let stats = PerCpuArray::try_from(map(maps::TCP_STATS)?)
        .map_err(|e| input(format!("stats map: {e}")))?;
    let mut agg = AggMaps::new(
        PerCpuArray::try_from(map(maps::TCP_HIST)?)
            .map_err(|e| input(format!("histogram map: {e}")))?,
        config.histogram_rows,
        PerCpuHashMap::try_from(map(maps::TCP_COUNTERS)?)
            .map_err(|e| input(format!("counters map: {e}")))?,
        Array::try_from(map(maps::TCP_CONTROL)?).map_err(|e| input(format!("control map: {e}")))?,
    );
    // SAFETY: the RingBuf owns its map fd, which stays open and unchanged until the AsyncFd
    // (which owns the RingBuf) is dropped.
    let mut ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
        .map_err(|e| input(format!("epoll: {e}")))?;
    let mut stats = KernelStats::new(stats, source);
    let tick_every =
        (config.batch_timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(50));
    let mut batcher = Batcher::new(source, config, tick_every);
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stats_tick = tokio::time::interval(Duration::from_secs(1));
    stats_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let every = config.metrics_interval;
    let mut metrics_tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    metrics_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);

    loop {
        // Unbiased: a ring that stays readable under overload cannot starve the ticks.
        tokio::select! {
            _ = shutdown.requested() => break,
            ready = ring.readable_mut() => {
                let mut guard = ready.map_err(|e| input(format!("waiting on the ring buffer: {e}")))?;
                if drain(&mut batcher, guard.get_inner_mut(), &out).await {
                    guard.clear_ready();
                }
            }
            _ = tick.tick() => {
                drain(&mut batcher, ring.get_mut(), &out).await;
                batcher.flush_if_due(&out).await;
            }
            _ = stats_tick.tick() => stats.poll(),
            _ = metrics_tick.tick() => send_chunked(agg.collect().await, config, &out).await,
            filter = filter_updates.next() => match kernel.filter.apply(&filter) {
                Ok(()) => {
                    agg.filter_changed();
                    tracing::info!("tcp source: kernel filter replaced");
                }
                Err(e) => tracing::warn!("tcp source: keeping the previous kernel filter: {e}"),
            },
        }
    }
    // What the ring holds now (bounded: traffic keeps arriving until the program detaches).
    for _ in 0..16 {
        if drain(&mut batcher, ring.get_mut(), &out).await {
            break;
        }
    }
    batcher.flush(&out).await;
    send_chunked(agg.collect().await, config, &out).await;
    stats.poll();
    drop(ring);
    drop(kernel); // detaches the program
    Ok(())
}

/// Sends interval records in batches of at most `batch_max_events`.
async fn send_chunked(mut events: Vec<Event>, config: &TcpSourceConfig, out: &SourceOutput) {
    let max = config.batch_max_events.max(1);
    while !events.is_empty() {
        let rest = events.split_off(events.len().min(max));
        out.send(events).await;
        events = rest;
    }
}

fn input(msg: String) -> ComponentError {
    ComponentError::Input(msg)
}

/// Reads records until the ring is empty (`true`) or `DRAIN_LIMIT` were read (`false`),
/// handing each to the batcher.
async fn drain(batcher: &mut Batcher, ring: &mut RingBuf<MapData>, out: &SourceOutput) -> bool {
    for _ in 0..DRAIN_LIMIT {
        match ring.next() {
            Some(record) => batcher.push_record(&record, out).await,
            None => return true,
        }
    }
    false
}

/// Turns the kernel's cumulative per-CPU counters into metric increments.
struct KernelStats {
    map: PerCpuArray<MapData, u64>,
    last: [u64; TcpStat::COUNT as usize],
    counters: Vec<Counter>,
    lost: Counter,
}

impl KernelStats {
    fn new(map: PerCpuArray<MapData, u64>, source: &str) -> Self {
        let counters = TcpStat::ALL
            .iter()
            .map(|s| metrics::counter!(names::TCP_KERNEL_EVENTS, "source" => source.to_string(), "stat" => s.name()))
            .collect();
        let lost = metrics::counter!(names::RINGBUF_LOST, "source" => source.to_string());
        Self {
            map,
            last: [0; TcpStat::COUNT as usize],
            counters,
            lost,
        }
    }

    fn poll(&mut self) {
        for (i, stat) in TcpStat::ALL.iter().enumerate() {
            let total = match self.map.get(&(*stat as u32), 0) {
                Ok(per_cpu) => per_cpu.iter().sum::<u64>(),
                Err(e) => {
                    tracing::debug!("tcp source: reading stat {}: {e}", stat.name());
                    continue;
                }
            };
            let delta = total.saturating_sub(self.last[i]);
            self.last[i] = total;
            if delta > 0 {
                self.counters[i].increment(delta);
                if *stat == TcpStat::RingbufFull {
                    self.lost.increment(delta);
                }
            }
        }
    }
}
