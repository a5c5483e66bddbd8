//! Runs a whole configuration (a [`Graph`]) until it is asked to stop or every source
//! has finished, then shuts it down in order within a bounded time.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::pipeline::build::{ComponentFactory, Components};
use crate::pipeline::graph::Graph;
use crate::telemetry;

/// Options of `kotel run` that are not part of the pipeline file.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Record every source's events to this JSON-lines file.
    pub record: Option<PathBuf>,
    /// Append to the record file instead of truncating it (a reloaded run).
    pub append_record: bool,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub struct RunReport {
    /// Why shutdown began.
    pub reason: StopReason,
    /// True if draining and flushing did not finish within `runtime.shutdown_timeout`.
    pub timed_out: bool,
}

/// Why the runtime shut down.
#[derive(Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The `stop` future completed (SIGINT/SIGTERM in `kotel run`).
    Requested,
    /// Every source finished on its own.
    SourcesFinished,
}

/// A failure before anything runs.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The `--record` file could not be created.
    #[error("cannot create record file {path}: {error}")]
    Record {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// Runs `config` until `stop` completes or every source has finished, then stops the
/// sources, drains the pipelines and flushes the exporters, giving up after
/// `runtime.shutdown_timeout`. The config must have passed validation.
pub async fn run(
    config: &Config,
    options: RunOptions,
    stop: impl Future<Output = ()>,
) -> Result<RunReport, RunError> {
    run_with(config, options, stop, Arc::new(Components::default())).await
}

/// [`run`] with components made by `factory`.
pub async fn run_with(
    config: &Config,
    options: RunOptions,
    stop: impl Future<Output = ()>,
    factory: Arc<dyn ComponentFactory>,
) -> Result<RunReport, RunError> {
    telemetry::install();
    let mut graph = Graph::start(config, &options, factory)?;
    let reason = until_stopped(&mut graph, stop).await;
    let timed_out = graph.shutdown().await;
    Ok(RunReport { reason, timed_out })
}

/// Waits for `stop`, or for every source of `graph` to finish on its own.
pub(crate) async fn until_stopped(graph: &mut Graph, stop: impl Future<Output = ()>) -> StopReason {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => {
                tracing::info!("shutdown requested");
                return StopReason::Requested;
            }
            _ = graph.next_source_end() => {
                if graph.all_sources_finished() {
                    tracing::info!("every source finished; shutting down");
                    return StopReason::SourcesFinished;
                }
            }
        }
    }
}
