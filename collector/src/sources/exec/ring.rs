//! Ring-buffer plumbing with nothing exec-specific in it: batching decoded records into the
//! pipeline, draining a ring, and turning a per-CPU stats array into counters. Written
//! against a decode function and a list of stat names so that any kernel source could use
//! it (a candidate for a shared `sources` module).
//!
//! Contract: a record that decodes joins the current batch, sent when it holds the batch
//! maximum or before its oldest event is `timeout` old (checked every `tick`); a record that
//! does not decode is skipped, counted in `kotel.source.decode_errors{source,reason}` and
//! logged (the first five, then every 10 000th), never fatal.

use std::time::{Duration, Instant};

use aya::maps::{MapData, PerCpuArray, RingBuf};
use metrics::Counter;

use crate::event::{Batch, Event};
use crate::pipeline::SourceOutput;
use crate::sources::tcp::ClockOffset;
use crate::telemetry::names;

/// Undecodable records logged in full before logging thins out.
const LOGGED_BAD_RECORDS: u64 = 5;
/// Most records handled per call of [`drain`] before yielding to the caller.
const DRAIN_LIMIT: usize = 4096;

/// A decode error that names its `reason` label.
pub trait RecordError: std::fmt::Display {
    /// Value of the `reason` label of `kotel.source.decode_errors`.
    fn reason(&self) -> &'static str;
}

/// Turns one ring-buffer record into an event.
pub type DecodeFn<E> = fn(&[u8], &ClockOffset) -> Result<Event, E>;

/// Builds batches from ring-buffer records.
pub struct Batcher<E> {
    source: &'static str,
    decode: DecodeFn<E>,
    clock: ClockOffset,
    batch: Batch,
    max: usize,
    timeout: Duration,
    tick: Duration,
    oldest: Option<Instant>,
    bad_records: u64,
}

impl<E: RecordError> Batcher<E> {
    /// A batcher for source label `source` whose owner calls [`Batcher::flush_if_due`]
    /// every `tick`.
    pub fn new(
        source: &'static str,
        decode: DecodeFn<E>,
        max: usize,
        timeout: Duration,
        tick: Duration,
    ) -> Self {
        let max = max.max(1);
        Self {
            source,
            decode,
            clock: ClockOffset::now(),
            batch: Vec::with_capacity(max),
            max,
            timeout,
            tick,
            oldest: None,
            bad_records: 0,
        }
    }

    /// Decodes one record into the batch (sending it when full), or counts it as bad.
    pub async fn push_record(&mut self, record: &[u8], out: &SourceOutput) {
        match (self.decode)(record, &self.clock) {
            Ok(ev) => {
                self.oldest.get_or_insert_with(Instant::now);
                self.batch.push(ev);
                if self.batch.len() >= self.max {
                    self.flush(out).await;
                }
            }
            Err(e) => {
                self.bad_records += 1;
                let n = self.bad_records;
                if n <= LOGGED_BAD_RECORDS || n.is_multiple_of(10_000) {
                    tracing::warn!(
                        total = n,
                        "{} source: skipping a kernel record: {e}",
                        self.source
                    );
                }
                metrics::counter!(names::DECODE_ERRORS, "source" => self.source, names::REASON => e.reason())
                    .increment(1);
            }
        }
    }

    /// Sends the partial batch if it would be `timeout` old before the next tick.
    pub async fn flush_if_due(&mut self, out: &SourceOutput) {
        if self
            .oldest
            .is_some_and(|t| t.elapsed() + self.tick >= self.timeout)
        {
            self.flush(out).await;
        }
    }

    /// Sends the partial batch, if any.
    pub async fn flush(&mut self, out: &SourceOutput) {
        self.oldest = None;
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(self.max));
            out.send(batch).await;
        }
    }
}

/// Reads records until the ring is empty (`true`) or [`DRAIN_LIMIT`] were read (`false`).
pub async fn drain<E: RecordError>(
    batcher: &mut Batcher<E>,
    ring: &mut RingBuf<MapData>,
    out: &SourceOutput,
) -> bool {
    for _ in 0..DRAIN_LIMIT {
        match ring.next() {
            Some(record) => batcher.push_record(&record, out).await,
            None => return true,
        }
    }
    false
}

/// Turns a kernel program's cumulative per-CPU `u64` counters into metric increments:
/// `<metric>{stat}` for each, plus `kotel.ebpf.ringbuf.lost{source}` for the one that
/// counts failed reserves.
pub struct KernelStats {
    map: PerCpuArray<MapData, u64>,
    source: &'static str,
    stats: Vec<(u32, &'static str, Counter, u64)>,
    lost_index: u32,
    lost: Counter,
}

impl KernelStats {
    /// Counters for `stats` (index in the map, `stat` label); `lost_index` is the index of
    /// the ring-buffer-full counter.
    pub fn new(
        map: PerCpuArray<MapData, u64>,
        metric: &'static str,
        source: &'static str,
        stats: &[(u32, &'static str)],
        lost_index: u32,
    ) -> Self {
        let stats = stats
            .iter()
            .map(|&(i, name)| (i, name, metrics::counter!(metric, "stat" => name), 0))
            .collect();
        let lost = metrics::counter!(names::RINGBUF_LOST, "source" => source);
        Self {
            map,
            source,
            stats,
            lost_index,
            lost,
        }
    }

    /// Adds what each counter grew by since the last poll.
    pub fn poll(&mut self) {
        for (index, name, counter, last) in &mut self.stats {
            let total = match self.map.get(index, 0) {
                Ok(per_cpu) => per_cpu.iter().sum::<u64>(),
                Err(e) => {
                    tracing::debug!("{} source: reading stat {name}: {e}", self.source);
                    continue;
                }
            };
            let delta = total.saturating_sub(*last);
            *last = total;
            if delta > 0 {
                counter.increment(delta);
                if *index == self.lost_index {
                    self.lost.increment(delta);
                }
            }
        }
    }
}
