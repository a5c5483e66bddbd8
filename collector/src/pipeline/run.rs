//! Runs a whole configuration: exporters, pipelines, supervised sources and the
//! self-telemetry ticker, then shuts them down in order within a bounded time.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::{ComponentId, Config, Signal};
use std::sync::Arc;

use crate::pipeline::build::{ComponentFactory, Components};
use crate::pipeline::component::Shutdown;
use crate::pipeline::output::{ComponentCounters, Edge, SendPolicy, SourceOutput};
use crate::pipeline::record::RecordExporter;
use crate::pipeline::stages::{
    run_exporter, run_pipeline, ExporterCounters, FlushDeadline, ProcessorStage,
};
use crate::pipeline::supervisor::{supervise, Backoff, SourceEnd};
use crate::pipeline::ticker::{DepthProbe, Ticker};
use crate::telemetry::{self, names};

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
    let policy = SendPolicy::from_runtime(&config.runtime);
    let capacity = config.runtime.channel_capacity;
    let (stop_tx, stop_rx) = watch::channel(false);
    let shutdown = Shutdown::new(stop_rx);
    let mut probes = Vec::new();
    let mut exporters = JoinSet::new();
    let mut pipelines = JoinSet::new();

    let flush_deadline = FlushDeadline::new(config.runtime.shutdown_timeout);
    let mut exporter_edges = BTreeMap::new();
    for (id, exporter) in &config.exporters {
        let (tx, rx) = mpsc::channel(capacity);
        probes.push(DepthProbe {
            channel: id.to_string(),
            tx: tx.downgrade(),
        });
        let counters = exporter_counters("exporter", &id.to_string());
        exporters.spawn(run_exporter(
            id.to_string(),
            rx,
            factory.exporter(id, exporter),
            counters,
            flush_deadline.clone(),
        ));
        exporter_edges.insert(id.clone(), Edge::new(tx, policy));
    }

    let mut source_edges: BTreeMap<ComponentId, Vec<Edge>> = BTreeMap::new();
    for (pipeline_id, pipeline) in &config.pipelines {
        let (tx, rx) = mpsc::channel(capacity);
        let name = pipeline_id.to_string();
        probes.push(DepthProbe {
            channel: format!("pipelines::{name}"),
            tx: tx.downgrade(),
        });
        let processors = pipeline
            .processors
            .iter()
            .map(|id| processor_stage(config, factory.as_ref(), id))
            .collect();
        let exporters = pipeline
            .exporters
            .iter()
            .map(|id| exporter_edges[id].clone())
            .collect();
        pipelines.spawn(run_pipeline(
            rx,
            processors,
            exporters,
            ComponentCounters::new("pipeline", &name),
        ));
        for source in &pipeline.sources {
            source_edges
                .entry(source.clone())
                .or_default()
                .push(Edge::new(tx.clone(), policy));
        }
    }

    if let Some(path) = &options.record {
        let recorder = RecordExporter::open(path, options.append_record).map_err(|error| {
            RunError::Record {
                path: path.clone(),
                error,
            }
        })?;
        let (tx, rx) = mpsc::channel(capacity);
        probes.push(DepthProbe {
            channel: "record".to_string(),
            tx: tx.downgrade(),
        });
        exporters.spawn(run_exporter(
            "record".into(),
            rx,
            Box::new(recorder),
            exporter_counters("record", "record"),
            flush_deadline.clone(),
        ));
        for edges in source_edges.values_mut() {
            edges.push(Edge::new(tx.clone(), policy));
        }
        tracing::info!(file = %path.display(), "recording source events");
    }

    let backoff = Backoff {
        initial: config.runtime.restart_backoff_initial,
        max: config.runtime.restart_backoff_max,
    };
    let mut sources = JoinSet::new();
    for (id, edges) in source_edges {
        let source_config = config.sources[&id].clone();
        let output = SourceOutput::new(&id, edges);
        let (build_id, factory) = (id.clone(), factory.clone());
        let build = move || factory.source(&build_id, &source_config);
        sources.spawn(supervise(id, build, output, shutdown.clone(), backoff));
    }

    // Self-telemetry is metrics: it goes to the exporters of metrics pipelines (an
    // exporter that only carries logs may face a backend that takes nothing else), and
    // to those that print it locally.
    let metrics_exporters: BTreeSet<&ComponentId> = config
        .pipelines
        .iter()
        .filter(|(id, _)| id.signal() == Signal::Metrics)
        .flat_map(|(_, pipeline)| &pipeline.exporters)
        .collect();
    let telemetry_edges = exporter_edges
        .into_iter()
        .filter(|(id, _)| {
            metrics_exporters.contains(id)
                || config.exporters[id].takes_telemetry_outside_metrics_pipelines()
        })
        .map(|(_, edge)| edge)
        .collect();
    let ticker = Ticker::new(telemetry_edges, probes);
    let ticking = tokio::spawn(
        ticker
            .clone()
            .run(config.telemetry.interval, shutdown.clone()),
    );
    tracing::info!(
        sources = config.sources.len(),
        pipelines = config.pipelines.len(),
        exporters = config.exporters.len(),
        "kotel running"
    );

    let reason = wait_for_stop(&mut sources, stop).await;
    let shutdown_timeout = config.runtime.shutdown_timeout;
    flush_deadline.set(tokio::time::Instant::now() + flush_budget(shutdown_timeout));
    let _ = stop_tx.send(true);
    // In order: sources stop (their edges close), pipelines drain into the exporter
    // channels, the last telemetry snapshot follows them, then the exporters drain and flush.
    let telemetry_on = !config.telemetry.interval.is_zero();
    let drain = async move {
        while sources.join_next().await.is_some() {}
        let _ = ticking.await;
        join_all("pipeline", &mut pipelines).await;
        if telemetry_on {
            ticker.send_snapshot().await;
        }
        drop(ticker);
        join_all("exporter", &mut exporters).await;
    };
    let timed_out = tokio::time::timeout(shutdown_timeout, drain).await.is_err();
    if timed_out {
        tracing::warn!(timeout = ?config.runtime.shutdown_timeout, "shutdown did not finish in time; unsent events are lost");
    } else {
        tracing::info!("shutdown complete");
    }
    Ok(RunReport { reason, timed_out })
}

/// How long after shutdown begins the exporters must be done flushing: the shutdown
/// timeout less a margin (a tenth, at most 250 ms) in which they count and log what they
/// abandon and the runtime finishes, so the whole shutdown ends within the timeout.
fn flush_budget(shutdown_timeout: Duration) -> Duration {
    shutdown_timeout.saturating_sub((shutdown_timeout / 10).min(Duration::from_millis(250)))
}

/// Waits for `stop`, or for every source to finish on its own.
async fn wait_for_stop(
    sources: &mut JoinSet<SourceEnd>,
    stop: impl Future<Output = ()>,
) -> StopReason {
    let all_finished = async {
        while let Some(end) = sources.join_next().await {
            if !matches!(end, Ok(SourceEnd::Finished)) {
                // A supervisor only stops on shutdown, or for good on a rejection (the agent
                // stays up and reports it); keep waiting for the stop request.
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = stop => {
            tracing::info!("shutdown requested");
            StopReason::Requested
        }
        _ = all_finished => {
            tracing::info!("every source finished; shutting down");
            StopReason::SourcesFinished
        }
    }
}

fn processor_stage(
    config: &Config,
    factory: &dyn ComponentFactory,
    id: &ComponentId,
) -> ProcessorStage {
    let name = id.to_string();
    let processor = factory.processor(id, &config.processors[id]);
    ProcessorStage {
        filtered: ComponentCounters::dropped("processor", &name, processor.drop_reason()),
        processor,
        counters: ComponentCounters::new("processor", &name),
        panicked: ComponentCounters::dropped("processor", &name, "panic"),
        id: name,
    }
}

fn exporter_counters(kind: &'static str, id: &str) -> ExporterCounters {
    ExporterCounters {
        common: ComponentCounters::new(kind, id),
        failed: ComponentCounters::dropped(kind, id, "export_failed"),
    }
}

/// Waits for every task of `tasks`; a task that panicked is logged and counted (its
/// channel then refuses batches, which the senders count as dropped).
async fn join_all(kind: &'static str, tasks: &mut JoinSet<()>) {
    while let Some(result) = tasks.join_next().await {
        if let Err(e) = result {
            metrics::counter!(names::COMPONENT_ERRORS, names::COMPONENT_KIND => kind).increment(1);
            tracing::error!(component_kind = kind, error = %e, "a {kind} task ended abnormally");
        }
    }
}
