//! The read loop of a ring-buffer source: records -> decoded batches -> [`SourceOutput`],
//! kernel counters -> self-telemetry, filter updates -> kernel maps.
//!
//! Shared by the kernel sources: the caller passes the maps, a decode function and the
//! batching settings.
//!
//! Contract: wakes when the kernel signals the ring buffer (tokio `AsyncFd` over aya's
//! `RingBuf`) and on a poll tick of `batch_timeout / 4` clamped to 5..50 ms (records
//! submitted without a wakeup are picked up there); sends a batch when it holds
//! `batch_max_events` or before its oldest event is `batch_timeout` old. A record that does
//! not decode is skipped, counted in `kotel.source.decode_errors{source,reason}` and logged
//! (the first five, then every 10 000th), never fatal. Stats are polled every second. On
//! shutdown it drains what the ring holds (bounded), sends it, polls the stats a last time
//! and returns `Ok(())`; the caller then drops the kernel object (detaching the programs).

use std::time::Duration;

use aya::maps::{MapData, PerCpuArray, RingBuf};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::MissedTickBehavior;

use crate::event::Event;
use crate::kernel::batcher::{Batcher, DecodeFailure, ReadSettings};
use crate::kernel::clock::ClockOffset;
use crate::kernel::stats::{KernelStats, StatsSpec};
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, SourceOutput};
use crate::sources::kernel_filter::{FilterUpdates, KernelFilter};

fn input(msg: String) -> ComponentError {
    ComponentError::Input(msg)
}

/// The maps, stats and batching of one source's object, for [`read_object`].
pub struct RingSpec {
    /// The component id (the `source` label of its metrics).
    pub source: String,
    /// Name of the ring buffer map.
    pub events_map: &'static str,
    /// Name of the per-CPU stats array.
    pub stats_map: &'static str,
    /// Metric of the per-stat series (`kotel.source.<type>.kernel_events`).
    pub metric: &'static str,
    /// The `stat` label of each counter, in map-index order.
    pub stats: Vec<&'static str>,
    /// Index of the ring-buffer-full counter.
    pub ringbuf_full: usize,
    /// Most events per batch.
    pub batch_max_events: usize,
    /// Longest an event waits in a partial batch.
    pub batch_timeout: Duration,
}

/// Takes the maps `spec` names out of `ebpf` and runs the read loop ([`run`]) until
/// shutdown. `decode` turns a record into an event, with the clock offset taken at start.
#[allow(clippy::too_many_arguments)]
pub async fn read_object<D>(
    spec: RingSpec,
    ebpf: &mut aya::Ebpf,
    filter: &mut KernelFilter,
    filter_updates: FilterUpdates,
    mut decode: D,
    periodic: impl Periodic,
    out: SourceOutput,
    shutdown: Shutdown,
) -> Result<(), ComponentError>
where
    D: FnMut(&[u8], &ClockOffset) -> Result<Event, DecodeFailure>,
{
    let (ring, stats) = take_ring_and_stats(ebpf, spec.events_map, spec.stats_map)?;
    let stats = KernelStats::new(
        stats,
        StatsSpec {
            source: spec.source.clone(),
            metric: spec.metric,
            stats: spec.stats,
            ringbuf_full: spec.ringbuf_full,
        },
    );
    let settings = ReadSettings {
        source: spec.source,
        batch_max_events: spec.batch_max_events,
        batch_timeout: spec.batch_timeout,
    };
    let clock = ClockOffset::now();
    let decode = move |record: &[u8]| decode(record, &clock);
    run(
        ring,
        stats,
        filter,
        filter_updates,
        settings,
        decode,
        periodic,
        out,
        shutdown,
    )
    .await
}

/// Takes a source's event ring buffer and per-CPU stats map out of its loaded object.
fn take_ring_and_stats(
    ebpf: &mut aya::Ebpf,
    events: &str,
    stats: &str,
) -> Result<(RingBuf<MapData>, PerCpuArray<MapData, u64>), ComponentError> {
    let mut map = |name: &str| {
        ebpf.take_map(name)
            .ok_or_else(|| input(format!("map {name} missing")))
    };
    let ring =
        RingBuf::try_from(map(events)?).map_err(|e| input(format!("ring buffer {events}: {e}")))?;
    let stats =
        PerCpuArray::try_from(map(stats)?).map_err(|e| input(format!("stats map {stats}: {e}")))?;
    Ok((ring, stats))
}

/// Source-specific work the shared loop does besides reading records: events gathered
/// every `interval` (e.g. in-kernel histograms, read and reset) and once more at shutdown,
/// and a notice when the kernel filter changed.
pub trait Periodic: Send {
    /// How often [`Periodic::collect`] runs; `None` for never.
    fn interval(&self) -> Option<Duration>;
    /// The events of the interval that just ended.
    fn collect(&mut self) -> BoxFuture<'_, Vec<Event>>;
    /// The kernel filter was replaced (drop caches of filter verdicts).
    fn filter_changed(&mut self) {}
}

/// No periodic work.
pub struct NoPeriodic;

impl Periodic for NoPeriodic {
    fn interval(&self) -> Option<Duration> {
        None
    }
    fn collect(&mut self) -> BoxFuture<'_, Vec<Event>> {
        Box::pin(async { Vec::new() })
    }
}

/// Completes at the next tick of `tick`, never when there is none.
async fn next_tick(tick: &mut Option<tokio::time::Interval>) {
    match tick {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Sends `events` in batches of at most `max`.
async fn send_chunked(mut events: Vec<Event>, max: usize, out: &SourceOutput) {
    let max = max.max(1);
    while !events.is_empty() {
        let rest = events.split_off(events.len().min(max));
        out.send(events).await;
        events = rest;
    }
}

/// Runs until shutdown; see the module contract.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    ring: RingBuf<MapData>,
    mut stats: KernelStats,
    filter: &mut KernelFilter,
    mut filter_updates: FilterUpdates,
    settings: ReadSettings,
    decode: impl FnMut(&[u8]) -> Result<Event, DecodeFailure>,
    mut periodic: impl Periodic,
    out: SourceOutput,
    mut shutdown: Shutdown,
) -> Result<(), ComponentError> {
    let source = settings.source.clone();
    let max = settings.batch_max_events;
    let mut periodic_tick = periodic.interval().map(|every| {
        let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        t.set_missed_tick_behavior(MissedTickBehavior::Delay);
        t
    });
    // SAFETY: the RingBuf owns its map fd, which stays open and unchanged until the AsyncFd
    // (which owns the RingBuf) is dropped.
    let mut ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
        .map_err(|e| input(format!("epoll: {e}")))?;
    let tick_every =
        (settings.batch_timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(50));
    let mut batcher = Batcher::new(settings, decode);
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut stats_tick = tokio::time::interval(Duration::from_secs(1));
    stats_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // Unbiased: a ring that stays readable under overload cannot starve the ticks.
        tokio::select! {
            _ = shutdown.requested() => break,
            ready = ring.readable_mut() => {
                let mut guard = ready.map_err(|e| input(format!("waiting on the ring buffer: {e}")))?;
                if batcher.drain(guard.get_inner_mut(), &out).await {
                    guard.clear_ready();
                }
            }
            _ = tick.tick() => {
                batcher.drain(ring.get_mut(), &out).await;
                batcher.flush_if_due(&out, tick_every).await;
            }
            _ = stats_tick.tick() => stats.poll(),
            _ = next_tick(&mut periodic_tick) => send_chunked(periodic.collect().await, max, &out).await,
            update = filter_updates.next() => match filter.apply(&update) {
                Ok(()) => {
                    periodic.filter_changed();
                    tracing::info!("{source} source: kernel filter replaced");
                }
                Err(e) => tracing::warn!("{source} source: keeping the previous kernel filter: {e}"),
            },
        }
    }
    // What the ring holds now (bounded: events keep arriving until the programs detach).
    for _ in 0..16 {
        if batcher.drain(ring.get_mut(), &out).await {
            break;
        }
    }
    batcher.flush(&out).await;
    send_chunked(periodic.collect().await, max, &out).await;
    stats.poll();
    Ok(())
}
