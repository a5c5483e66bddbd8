//! The `sampling` processor: keeps a share of the HTTP exchanges of a traces pipeline,
//! decided once the whole request is seen: every error and every request slower than a
//! threshold is kept, the rest by a ratio of trace ids (the OpenTelemetry
//! `TraceIdRatioBased` rule on the id's low 8 bytes, so that every agent keeps or drops
//! the same traces). A request that carried a `traceparent` follows its caller's sampled
//! flag instead of the ratio (`parent_based`), so kotel's spans join the traces the
//! instrumented services keep. Other events pass. What it drops is counted by the runtime in
//! `kotel.component.events.dropped{reason="sampled"}`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::component::kind::{Declared, Kind, ProcessorType, Shared};
use crate::component::Processor;
use crate::event::{Batch, Event, HttpEvent, TraceId};
use crate::settings::{duration, ComponentId, ConfigError, Signal};

/// `processors.sampling`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingConfig {
    /// Share of the other requests kept, 0 to 1 (by trace id).
    pub ratio: f64,
    /// Keep every error (5xx of a server, 4xx/5xx of a client, no response).
    pub keep_errors: bool,
    /// Keep every request at least this slow; `0s`: no threshold.
    #[serde(with = "duration")]
    pub keep_slower_than: Duration,
    /// A request whose `traceparent` says sampled is kept, and one that says not sampled
    /// is dropped (unless an error or slow, above), instead of the ratio deciding.
    pub parent_based: bool,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            ratio: 0.1,
            keep_errors: true,
            keep_slower_than: Duration::from_secs(1),
            parent_based: true,
        }
    }
}

/// The processor.
pub struct SamplingProcessor {
    config: SamplingConfig,
    /// Trace ids whose low 8 bytes are below this are kept by the ratio.
    bound: u64,
}

impl SamplingProcessor {
    /// A processor for `config`.
    pub fn new(config: &SamplingConfig) -> Self {
        let ratio = config.ratio.clamp(0.0, 1.0);
        let bound = if ratio >= 1.0 {
            u64::MAX
        } else {
            (ratio * 2f64.powi(64)) as u64
        };
        Self {
            config: config.clone(),
            bound,
        }
    }

    /// Whether `e` is exported.
    pub fn keeps(&self, e: &HttpEvent) -> bool {
        if self.config.keep_errors && e.is_error() {
            return true;
        }
        let threshold = self.config.keep_slower_than;
        if !threshold.is_zero()
            && e.end_time_unix_nano.saturating_sub(e.start_time_unix_nano)
                >= threshold.as_nanos() as u64
        {
            return true;
        }
        match e.sampled.filter(|_| self.config.parent_based) {
            Some(sampled) => sampled,
            None => self.bound == u64::MAX || low_bytes(&e.trace_id) < self.bound,
        }
    }
}

/// The trace id's low 8 bytes (its last 16 hex digits) as a number.
fn low_bytes(trace_id: &TraceId) -> u64 {
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id.as_bytes()[8..]);
    u64::from_be_bytes(low)
}

impl Processor for SamplingProcessor {
    fn process(&mut self, mut batch: Batch) -> Batch {
        batch.retain(|e| match e {
            Event::Http(h) => self.keeps(h),
            _ => true,
        });
        batch
    }

    fn drop_reason(&self) -> &'static str {
        "sampled"
    }
}

impl Kind for SamplingConfig {
    const KIND: &'static str = "sampling";
}

impl Declared for SamplingConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Traces]
    }
    fn validate(&self) -> Vec<ConfigError> {
        if (0.0..=1.0).contains(&self.ratio) {
            Vec::new()
        } else {
            vec![ConfigError::new(
                "ratio",
                format!("{} is outside 0..=1", self.ratio),
            )]
        }
    }
}

impl ProcessorType for SamplingConfig {
    fn build(&self, _: &ComponentId, _shared: &Shared) -> Box<dyn Processor> {
        Box::new(SamplingProcessor::new(self))
    }
}

#[cfg(test)]
#[path = "sampling_tests.rs"]
mod tests;
