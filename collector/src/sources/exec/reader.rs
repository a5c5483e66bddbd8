//! The read loop: ring buffer -> decoded batches -> [`SourceOutput`], the kernel's per-CPU
//! counters -> self-telemetry, and filter replacements -> the filter maps.
//!
//! Contract: wakes when the kernel signals the ring buffer (tokio `AsyncFd` over aya's
//! `RingBuf`) and on a poll tick of `batch_timeout / 4` clamped to 5..50 ms (records
//! submitted without a wakeup are picked up there); reads the stats map every second into
//! [`KERNEL_EVENTS`]`{stat}` and `kotel.ebpf.ringbuf.lost{source="exec"}`. On shutdown it
//! drains the ring, sends what it has, reads the stats a last time and drops the
//! [`Kernel`] (detaching the program) before returning `Ok(())`.

use std::time::Duration;

use aya::maps::{PerCpuArray, RingBuf};
use kotel_common::exec::{names, ExecStat};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::MissedTickBehavior;

use super::config::ExecSourceConfig;
use super::decode::{decode, DecodeError};
use super::loader::Kernel;
use super::ring::{drain, Batcher, KernelStats, RecordError};
use crate::event::Event;
use crate::pipeline::{ComponentError, Shutdown, SourceOutput};
use crate::sources::kernel_filter::FilterUpdates;
use crate::sources::tcp::ClockOffset;

/// Counter: the `exec` kernel program's own stats. Labels: `stat` (an `ExecStat` name:
/// `emitted`, `ringbuf_full`, `filtered`, `args_unread`, `args_truncated`,
/// `ppid_unknown`, `wakeup`).
pub const KERNEL_EVENTS: &str = "kotel.source.exec.kernel_events";
/// Value of the `source` label on shared source metrics.
pub const SOURCE: &str = "exec";

impl RecordError for DecodeError {
    fn reason(&self) -> &'static str {
        DecodeError::reason(self)
    }
}

fn decode_event(bytes: &[u8], clock: &ClockOffset) -> Result<Event, DecodeError> {
    decode(bytes, clock).map(Event::Exec)
}

/// A batcher of exec records for `config` whose owner ticks every `tick`.
pub fn batcher(config: &ExecSourceConfig, tick: Duration) -> Batcher<DecodeError> {
    Batcher::new(
        SOURCE,
        decode_event,
        config.batch_max_events,
        config.batch_timeout,
        tick,
    )
}

/// Runs until shutdown; see the module contract.
pub async fn run(
    mut kernel: Kernel,
    config: &ExecSourceConfig,
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
    let ring =
        RingBuf::try_from(map(names::EVENTS)?).map_err(|e| input(format!("ring buffer: {e}")))?;
    let stats =
        PerCpuArray::try_from(map(names::STATS)?).map_err(|e| input(format!("stats map: {e}")))?;
    // SAFETY: the RingBuf owns its map fd, which stays open and unchanged until the AsyncFd
    // (which owns the RingBuf) is dropped.
    let mut ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
        .map_err(|e| input(format!("epoll: {e}")))?;
    let all: Vec<(u32, &'static str)> = ExecStat::ALL
        .iter()
        .map(|s| (*s as u32, s.name()))
        .collect();
    let mut stats = KernelStats::new(
        stats,
        KERNEL_EVENTS,
        SOURCE,
        &all,
        ExecStat::RingbufFull as u32,
    );
    let tick_every =
        (config.batch_timeout / 4).clamp(Duration::from_millis(5), Duration::from_millis(50));
    let mut batcher = batcher(config, tick_every);
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
                if drain(&mut batcher, guard.get_inner_mut(), &out).await {
                    guard.clear_ready();
                }
            }
            _ = tick.tick() => {
                drain(&mut batcher, ring.get_mut(), &out).await;
                batcher.flush_if_due(&out).await;
            }
            _ = stats_tick.tick() => stats.poll(),
            filter = filter_updates.next() => match kernel.filter.apply(&filter) {
                Ok(()) => tracing::info!("exec source: kernel filter replaced"),
                Err(e) => tracing::warn!("exec source: keeping the previous kernel filter: {e}"),
            },
        }
    }
    // What the ring holds now (bounded: execs keep arriving until the program detaches).
    for _ in 0..16 {
        if drain(&mut batcher, ring.get_mut(), &out).await {
            break;
        }
    }
    batcher.flush(&out).await;
    stats.poll();
    drop(ring);
    drop(kernel); // detaches the program
    Ok(())
}

fn input(msg: String) -> ComponentError {
    ComponentError::Input(msg)
}
