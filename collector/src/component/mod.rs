//! The three component contracts, and the output a source sends through. Sources,
//! processors and exporters depend on this layer; the pipeline (which builds, connects
//! and supervises them) depends on it too, never the other way. The runtime (not the
//! components) counts what goes in, what comes out and what is dropped, supervises tasks
//! and drives shutdown.

pub mod backoff;
pub mod checkup;
pub mod kind;
pub mod output;

pub use output::SourceOutput;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use tokio::sync::watch;

use crate::event::Batch;

/// A boxed, sendable future (the component traits are object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An error a component reports at runtime. The runtime logs it with the component id,
/// counts it (`kotel.component.errors`) and, for sources, restarts the source with backoff.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// Setting up the component failed (e.g. the kernel refused a program).
    #[error("start-up failed: {0}")]
    Startup(String),
    /// Reading input failed (e.g. a file or ring buffer read error).
    #[error("input failed: {0}")]
    Input(String),
    /// Writing output failed (e.g. stdout closed, backend refused).
    #[error("output failed: {0}")]
    Output(String),
    /// The kernel's verifier refused one of the source's programs. Its verdict does not
    /// change by waiting, so the source is not restarted (a changed pipeline file, applied
    /// by a reload, builds it anew).
    #[error("the kernel rejects {program}: {reason}")]
    Rejected {
        /// The program's name.
        program: String,
        /// The verifier's reason, in one line.
        reason: String,
    },
    /// The source cannot go on and must not be restarted (a restart would repeat what it
    /// already emitted, e.g. a replay file that fails to read half way).
    #[error("stopped for good: {0}")]
    Fatal(String),
}

/// Tells a running component that the agent is shutting down.
#[derive(Clone, Debug)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A signal that fires when `trigger` sends `true` (or is dropped).
    pub fn new(rx: watch::Receiver<bool>) -> Self {
        Self(rx)
    }

    /// A signal that never fires; for tests and one-shot tools.
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Self(rx)
    }

    /// True once shutdown was requested.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when shutdown is requested.
    pub async fn requested(&mut self) {
        // An error means the sender is gone, which also means "stop".
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// A producer of events: kernel programs, files.
///
/// `run` owns the source until it returns: it emits batches through `out` and returns
/// `Ok(())` promptly (within the runtime's shutdown timeout) once `shutdown` fires,
/// releasing everything it attached. Returning `Ok(())` before shutdown means the source
/// has finished for good (e.g. a replay file reached its end); returning `Err` makes the
/// runtime log and count the failure and build the source anew after a backoff, except
/// for [`ComponentError::Fatal`] and [`ComponentError::Rejected`], after which the source
/// stays stopped.
pub trait Source: Send {
    /// Runs the source until shutdown, completion or failure.
    fn run(
        self: Box<Self>,
        out: SourceOutput,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ComponentError>>;
}

/// A function from batch to batch (filtering, enrichment). It must not block: anything
/// slow (a gRPC call) happens in its own task and is consulted through a cache.
///
/// A processor may hold events back for a short, bounded time (e.g. until enrichment data
/// arrives): it keeps them out of what `process` returns, reports them through `held`,
/// and hands them back through `release`, in their original order, when they are due or
/// when the runtime drains it at shutdown. Held events are never lost: `release(All)`
/// returns every one of them.
pub trait Processor: Send {
    /// Transforms one batch. Returning an empty batch drops everything in it; the runtime
    /// counts the difference (less what the call newly held) as dropped by this processor.
    fn process(&mut self, batch: Batch) -> Batch;

    /// How many events the processor holds right now.
    fn held(&self) -> usize {
        0
    }

    /// When the runtime should call `release` next even without new input; `None` while
    /// nothing is held.
    fn next_release(&self) -> Option<Instant> {
        None
    }

    /// Held events that are ready (`Release::Due`) or all of them (`Release::All`, at
    /// shutdown), already processed, in their original order.
    fn release(&mut self, _which: Release) -> Batch {
        Vec::new()
    }

    /// The `reason` label under which the runtime counts events this processor takes
    /// out of batches: `filtered` unless the processor consumes them for another purpose
    /// (`aggregated`).
    fn drop_reason(&self) -> &'static str {
        "filtered"
    }
}

/// Which held events [`Processor::release`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Those that are ready at this instant.
    Due(Instant),
    /// Every held event (the input has closed).
    All,
}

/// A consumer that encodes and sends batches somewhere (stdout, a backend, a file).
pub trait Exporter: Send {
    /// Delivers one batch. An `Err` is logged, counted and the batch is dropped; the
    /// exporter keeps receiving later batches.
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>>;

    /// Pushes out anything buffered, and returns by `deadline` whatever is left: what it
    /// could not deliver by then is abandoned, counted and logged. Called once at shutdown
    /// after the last batch.
    fn flush(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> BoxFuture<'_, Result<(), ComponentError>>;
}
