//! Ring-buffer records -> batches of events for the pipeline, for every kernel source.
//!
//! Contract: a record that decodes joins the current batch, sent when it holds
//! `batch_max_events` or before its oldest event is `batch_timeout` old (checked on the
//! reader's tick); a record that does not decode is skipped, counted in
//! `kotel.source.decode_errors{source,reason}` and logged (the first five, then every
//! 10 000th), never fatal.

use std::time::{Duration, Instant};

use aya::maps::{MapData, RingBuf};

use crate::component::SourceOutput;
use crate::event::{Batch, Event};
use crate::kernel::source::Batching;
use crate::telemetry::names;

/// Most records handled per wakeup before yielding to the other branches.
const DRAIN_LIMIT: usize = 4096;
/// Undecodable records logged in full before logging thins out.
const LOGGED_BAD_RECORDS: u64 = 5;

/// A record that did not decode: the `reason` label and a message for the log.
pub type DecodeFailure = (&'static str, String);

/// Batching settings and the source's label.
#[derive(Clone, Debug)]
pub struct ReadSettings {
    /// Value of the `source` label (the component id).
    pub source: String,
    /// Batch size and age limits (a batch holds at least 1 event).
    pub batching: Batching,
}

/// Builds batches from records.
pub struct Batcher<D> {
    decode: D,
    settings: ReadSettings,
    batch: Batch,
    oldest: Option<Instant>,
    bad_records: u64,
}

impl<D: FnMut(&[u8], &mut Vec<Event>) -> Result<(), DecodeFailure>> Batcher<D> {
    /// A batcher that turns records into events with `decode`.
    pub fn new(settings: ReadSettings, decode: D) -> Self {
        Self {
            decode,
            settings,
            batch: Vec::new(),
            oldest: None,
            bad_records: 0,
        }
    }

    /// The batching settings it was made with.
    pub fn batching(&self) -> Batching {
        self.settings.batching
    }

    /// Decodes one record into the batch (sending it when full), or counts it as bad.
    pub async fn push(&mut self, record: &[u8], out: &SourceOutput) {
        let before = self.batch.len();
        match (self.decode)(record, &mut self.batch) {
            Ok(()) => {
                if self.batch.len() > before {
                    self.oldest.get_or_insert_with(Instant::now);
                }
                if self.batch.len() >= self.settings.batching.max_events.max(1) {
                    self.flush(out).await;
                }
            }
            Err((reason, message)) => {
                self.bad_records += 1;
                let n = self.bad_records;
                if n <= LOGGED_BAD_RECORDS || n.is_multiple_of(10_000) {
                    let source = &self.settings.source;
                    tracing::warn!(
                        total = n,
                        "{source} source: skipping a kernel record: {message}"
                    );
                }
                metrics::counter!(names::DECODE_ERRORS, "source" => self.settings.source.clone(), names::REASON => reason)
                    .increment(1);
            }
        }
    }

    /// Sends the partial batch if it would be `batch_timeout` old before the next `tick`.
    pub async fn flush_if_due(&mut self, out: &SourceOutput, tick: Duration) {
        if self
            .oldest
            .is_some_and(|t| t.elapsed() + tick >= self.settings.batching.timeout)
        {
            self.flush(out).await;
        }
    }

    /// Sends the partial batch, if any.
    pub async fn flush(&mut self, out: &SourceOutput) {
        self.oldest = None;
        if !self.batch.is_empty() {
            out.send(std::mem::take(&mut self.batch)).await;
        }
    }

    /// Reads records until the ring is empty (`true`) or `DRAIN_LIMIT` were read (`false`).
    pub async fn drain(&mut self, ring: &mut RingBuf<MapData>, out: &SourceOutput) -> bool {
        for _ in 0..DRAIN_LIMIT {
            match ring.next() {
                Some(record) => self.push(&record, out).await,
                None => return true,
            }
        }
        false
    }
}

#[cfg(test)]
#[path = "batcher_tests.rs"]
mod tests;
