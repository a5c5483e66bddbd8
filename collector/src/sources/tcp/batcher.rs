//! Ring-buffer records -> batches of decoded events.
//!
//! Contract: a record that decodes joins the current batch, which is sent when it holds
//! `batch_max_events`; a record that does not decode (truncated, oversized, unknown kind
//! or family) is skipped, counted in `kotel.source.decode_errors{source=<component id>,reason}` and
//! logged (the first five, then every 10 000th) — never fatal.

use std::time::{Duration, Instant};

use super::config::TcpSourceConfig;
use super::decode::{decode, ClockOffset};
use crate::event::{Batch, Event};
use crate::pipeline::SourceOutput;
use crate::telemetry::names;

/// Undecodable records logged in full before logging thins out.
const LOGGED_BAD_RECORDS: u64 = 5;

/// Builds batches from ring-buffer records.
pub struct Batcher {
    /// The source's component id (`source` label of its metrics).
    source: String,
    clock: ClockOffset,
    batch: Batch,
    max: usize,
    timeout: Duration,
    tick: Duration,
    oldest: Option<Instant>,
    /// Records that failed to decode so far.
    bad_records: u64,
}

impl Batcher {
    /// A batcher for `config` whose owner checks [`Batcher::flush_if_due`] every `tick`.
    pub fn new(source: &str, config: &TcpSourceConfig, tick: Duration) -> Self {
        let max = config.batch_max_events.max(1);
        Self {
            source: source.to_string(),
            clock: ClockOffset::now(),
            batch: Vec::with_capacity(max),
            max,
            timeout: config.batch_timeout,
            tick,
            oldest: None,
            bad_records: 0,
        }
    }

    /// Decodes one record into the batch (sending it when full), or counts it as bad.
    pub async fn push_record(&mut self, record: &[u8], out: &SourceOutput) {
        match decode(record, &self.clock) {
            Ok(ev) => {
                self.oldest.get_or_insert_with(Instant::now);
                self.batch.push(Event::Tcp(ev));
                if self.batch.len() >= self.max {
                    self.flush(out).await;
                }
            }
            Err(e) => {
                self.bad_records += 1;
                if self.bad_records <= LOGGED_BAD_RECORDS || self.bad_records.is_multiple_of(10_000)
                {
                    tracing::warn!(
                        total = self.bad_records,
                        "tcp source: skipping a kernel record: {e}"
                    );
                }
                metrics::counter!(names::DECODE_ERRORS, "source" => self.source.clone(), names::REASON => e.reason())
                    .increment(1);
            }
        }
    }

    /// Sends the partial batch if it would be `batch_timeout` old before the next tick.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::tcp::decode::tests::{encode, v4_connect};
    use crate::telemetry;

    fn decode_errors(reason: &str) -> f64 {
        telemetry::snapshot().counter_sum(
            names::DECODE_ERRORS,
            &[("source", "tcp/batcher-test"), (names::REASON, reason)],
        )
    }

    #[tokio::test]
    async fn bad_records_are_counted_and_skipped_and_good_ones_still_batched() {
        telemetry::install();
        let config = TcpSourceConfig {
            batch_max_events: 2,
            ..TcpSourceConfig::default()
        };
        let mut batcher = Batcher::new("tcp/batcher-test", &config, Duration::from_millis(50));
        let (out, mut rx) = SourceOutput::for_test(8);
        let good = encode(&v4_connect());
        let mut oversized = good.clone();
        oversized.extend_from_slice(&[0; 8]);
        let (truncated_before, oversized_before) =
            (decode_errors("truncated"), decode_errors("oversized"));

        batcher.push_record(&good, &out).await;
        batcher.push_record(&good[..good.len() - 1], &out).await;
        batcher.push_record(&oversized, &out).await;
        batcher.push_record(&[], &out).await;
        batcher.push_record(&good, &out).await; // fills the batch of two
        batcher.push_record(&good, &out).await;
        batcher.flush(&out).await;

        assert_eq!(rx.recv().await.unwrap().len(), 2);
        assert_eq!(rx.recv().await.unwrap().len(), 1);
        assert!(rx.try_recv().is_err());
        assert_eq!(decode_errors("truncated") - truncated_before, 2.0);
        assert_eq!(decode_errors("oversized") - oversized_before, 1.0);
    }
}
