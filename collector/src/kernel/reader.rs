//! The read loop of a ring-buffer source: records -> decoded batches -> [`SourceOutput`],
//! kernel counters -> self-telemetry, filter updates -> kernel maps.
//!
//! Shared by the kernel sources: [`run`] attaches a [`KernelProgram`], reads until
//! shutdown and detaches; the source declares its maps, decoder and periodic work.
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

use crate::component::{ComponentError, Shutdown, SourceOutput};
use crate::event::Event;
use crate::kernel::batcher::{Batcher, DecodeFailure, ReadSettings};
use crate::kernel::clock::ClockOffset;
use crate::kernel::filter::{FilterUpdates, KernelFilter};
use crate::kernel::source::{KernelProgram, KernelSourceConfig, Periodic, RecordDecoder, RingMaps};
use crate::kernel::stats::KernelStats;

fn input(msg: String) -> ComponentError {
    ComponentError::Input(msg)
}

/// Attaches `K` with `config`, reads until shutdown, then detaches; see the module
/// contract. `source` is the component id (the `source` label of its metrics).
pub async fn run<K: KernelProgram>(
    source: String,
    config: K::Config,
    out: SourceOutput,
    shutdown: Shutdown,
    filter_updates: FilterUpdates,
) -> Result<(), ComponentError> {
    let mut attached = K::attach(&source, &config)?;
    let (mut decoder, periodic) = K::reader(&source, &config, &mut attached)?;
    let maps = K::ring();
    let (ring, stats) = take_ring_and_stats(&mut attached.ebpf, &maps)?;
    let stats = KernelStats::new(stats, source.clone(), maps);
    let clock = ClockOffset::now();
    let settings = ReadSettings {
        source: source.clone(),
        batching: config.batching(),
    };
    let batcher = Batcher::new(settings, move |record: &[u8], out: &mut Vec<Event>| {
        decoder.decode(record, &clock, out)
    });
    tracing::debug!(source = %source, "{} source running", <K::Config as KernelSourceConfig>::KIND);
    let reading = ReadLoop {
        source,
        stats,
        batcher,
        periodic,
        filter: &mut attached.filter,
        filter_updates,
    };
    let result = reading.until_shutdown(ring, out, shutdown).await;
    drop(attached); // detaches the programs
    result
}

/// Takes a source's event ring buffer and per-CPU stats map out of its loaded object.
fn take_ring_and_stats(
    ebpf: &mut aya::Ebpf,
    maps: &RingMaps,
) -> Result<(RingBuf<MapData>, PerCpuArray<MapData, u64>), ComponentError> {
    let mut map = |name: &str| {
        ebpf.take_map(name)
            .ok_or_else(|| input(format!("map {name} missing")))
    };
    let (events, stats) = (maps.events_map, maps.stats_map);
    let ring =
        RingBuf::try_from(map(events)?).map_err(|e| input(format!("ring buffer {events}: {e}")))?;
    let stats =
        PerCpuArray::try_from(map(stats)?).map_err(|e| input(format!("stats map {stats}: {e}")))?;
    Ok((ring, stats))
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

/// Everything the loop owns besides the ring buffer.
struct ReadLoop<'a, D, P> {
    source: String,
    stats: KernelStats,
    batcher: Batcher<D>,
    periodic: P,
    filter: &'a mut KernelFilter,
    filter_updates: FilterUpdates,
}

impl<D, P> ReadLoop<'_, D, P>
where
    D: FnMut(&[u8], &mut Vec<Event>) -> Result<(), DecodeFailure>,
    P: Periodic,
{
    /// Runs until shutdown; see the module contract.
    async fn until_shutdown(
        mut self,
        ring: RingBuf<MapData>,
        out: SourceOutput,
        mut shutdown: Shutdown,
    ) -> Result<(), ComponentError> {
        let source = self.source.clone();
        let batching = self.batcher.batching();
        let max = batching.max_events;
        let mut periodic_tick = self.periodic.interval().map(|every| {
            let mut t = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
            t
        });
        // SAFETY: the RingBuf owns its map fd, which stays open and unchanged until the
        // AsyncFd (which owns the RingBuf) is dropped.
        let mut ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| input(format!("epoll: {e}")))?;
        let tick_every =
            (batching.timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(50));
        let mut tick = tokio::time::interval(tick_every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stats_tick = tokio::time::interval(Duration::from_secs(1));
        stats_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let batcher = &mut self.batcher;
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
                _ = stats_tick.tick() => self.stats.poll(),
                _ = next_tick(&mut periodic_tick) => send_chunked(self.periodic.collect().await, max, &out).await,
                update = self.filter_updates.next() => match self.filter.apply(&update) {
                    Ok(()) => {
                        self.periodic.filter_changed();
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
        send_chunked(self.periodic.collect().await, max, &out).await;
        self.stats.poll();
        Ok(())
    }
}
