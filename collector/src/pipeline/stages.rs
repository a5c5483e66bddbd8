//! The tasks between sources and the outside world: a pipeline's processor chain and an
//! exporter's consumer loop. Both run until their input channel closes (every sender
//! gone), so shutdown is: stop the sources, then let the channels drain.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use metrics::Counter;
use tokio::sync::mpsc;

use crate::component::output::{fan_out, ComponentCounters, Route};
use crate::component::{Exporter, Processor, Release};
use crate::event::Batch;
use crate::pipeline::supervisor::panic_message;

/// One processor of a pipeline with its counters.
pub struct ProcessorStage {
    /// The processor's component id.
    pub id: String,
    /// The processor.
    pub processor: Box<dyn Processor>,
    /// Its counters (`component_kind="processor"`).
    pub counters: ComponentCounters,
    /// Events it removed from batches (`reason="filtered"`).
    pub filtered: Counter,
    /// Events lost in batches it panicked on (`reason="panic"`).
    pub panicked: Counter,
}

/// Runs a pipeline: each batch goes through the processors in order, then to every
/// exporter edge. Events a processor holds back re-enter the chain after that processor
/// when it releases them (on its `next_release` deadline). Returns when `input` is closed
/// and drained, after every processor has released what it still held.
pub async fn run_pipeline(
    mut input: mpsc::Receiver<Batch>,
    mut processors: Vec<ProcessorStage>,
    exporters: Route,
    counters: ComponentCounters,
) {
    loop {
        let deadline = processors
            .iter()
            .filter_map(|stage| stage.processor.next_release())
            .min();
        tokio::select! {
            received = input.recv() => match received {
                Some(batch) => {
                    counters.received.increment(batch.len() as u64);
                    let batch = run_stages(&mut processors, batch);
                    fan_out(&exporters.current(), batch, &counters).await;
                }
                None => break,
            },
            () = sleep_until_deadline(deadline), if deadline.is_some() => {
                let now = Instant::now();
                for at in 0..processors.len() {
                    let released = release_from(&mut processors, at, Release::Due(now));
                    fan_out(&exporters.current(), released, &counters).await;
                }
            }
        }
    }
    for at in 0..processors.len() {
        let released = release_from(&mut processors, at, Release::All);
        fan_out(&exporters.current(), released, &counters).await;
    }
}

async fn sleep_until_deadline(deadline: Option<Instant>) {
    if let Some(at) = deadline {
        tokio::time::sleep_until(at.into()).await;
    }
}

/// Takes what processor `at` releases and runs it through the processors after it.
fn release_from(stages: &mut [ProcessorStage], at: usize, which: Release) -> Batch {
    let stage = &mut stages[at];
    let released = stage.processor.release(which);
    stage.counters.sent.increment(released.len() as u64);
    if released.is_empty() {
        return released;
    }
    run_stages(&mut stages[at + 1..], released)
}

/// Runs `batch` through `stages` in order; stops early once a stage leaves nothing.
fn run_stages(stages: &mut [ProcessorStage], mut batch: Batch) -> Batch {
    for stage in stages {
        let before = batch.len() as u64;
        let held_before = stage.processor.held() as u64;
        stage.counters.received.increment(before);
        let processor = &mut stage.processor;
        batch = match catch_unwind(AssertUnwindSafe(move || processor.process(batch))) {
            Ok(batch) => batch,
            Err(panic) => {
                stage.counters.errors.increment(1);
                stage.panicked.increment(before);
                tracing::error!(component = %stage.id, panic = panic_message(&*panic), events = before, "processor panicked; batch dropped");
                Vec::new()
            }
        };
        let after = batch.len() as u64;
        let newly_held = (stage.processor.held() as u64).saturating_sub(held_before);
        stage.counters.sent.increment(after);
        stage
            .filtered
            .increment(before.saturating_sub(after + newly_held));
        if batch.is_empty() {
            break;
        }
    }
    batch
}

/// Counters of an exporter task.
pub struct ExporterCounters {
    /// Shared component counters (`component_kind="exporter"`).
    pub common: ComponentCounters,
    /// Events in batches whose export failed (`reason="export_failed"`).
    pub failed: Counter,
}

/// When exporters must be done flushing: set once, when shutdown begins; until then
/// (an input closed for another reason) `fallback` from now.
#[derive(Clone, Debug)]
pub struct FlushDeadline {
    at: Arc<OnceLock<tokio::time::Instant>>,
    fallback: Duration,
}

impl FlushDeadline {
    /// A deadline not set yet.
    pub fn new(fallback: Duration) -> Self {
        Self {
            at: Arc::default(),
            fallback,
        }
    }

    /// Sets it (the first call wins).
    pub fn set(&self, at: tokio::time::Instant) {
        let _ = self.at.set(at);
    }

    /// The deadline.
    pub fn get(&self) -> tokio::time::Instant {
        self.at
            .get()
            .copied()
            .unwrap_or_else(|| tokio::time::Instant::now() + self.fallback)
    }
}

/// Runs an exporter: exports each batch as it arrives, then flushes once the input is
/// closed and drained, by `deadline`. A failed export is logged with the id, counted, and the exporter
/// goes on with the next batch.
pub async fn run_exporter(
    id: String,
    mut input: mpsc::Receiver<Batch>,
    mut exporter: Box<dyn Exporter>,
    counters: ExporterCounters,
    deadline: FlushDeadline,
) {
    while let Some(batch) = input.recv().await {
        let n = batch.len() as u64;
        counters.common.received.increment(n);
        let outcome = AssertUnwindSafe(exporter.export(&batch))
            .catch_unwind()
            .await;
        match outcome {
            Ok(Ok(())) => counters.common.sent.increment(n),
            Ok(Err(e)) => {
                counters.common.errors.increment(1);
                counters.failed.increment(n);
                tracing::warn!(component = %id, error = %e, events = n, "export failed; batch dropped");
            }
            Err(panic) => {
                counters.common.errors.increment(1);
                counters.failed.increment(n);
                tracing::error!(component = %id, panic = panic_message(&*panic), events = n, "exporter panicked; batch dropped");
            }
        }
    }
    if let Err(e) = exporter.flush(deadline.get()).await {
        counters.common.errors.increment(1);
        tracing::warn!(component = %id, error = %e, "flush at shutdown failed");
    }
}
