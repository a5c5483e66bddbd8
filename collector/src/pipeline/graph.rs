//! The running component graph: exporters, pipelines, supervised sources, the recorder
//! and the self-telemetry ticker, and how a new configuration replaces only what changed.
//!
//! Contract of [`Graph::apply`]: a component restarts only when it has to:
//! - an exporter when its config changed (or it was removed);
//! - a pipeline when its processors changed (the list, or the config of one of them);
//! - a source when its config changed.
//!
//! Everything else keeps running with its state: sources stay attached to the kernel,
//! `aggregate` keeps its series, `k8s_cri` its connection and cache. Kept sources and
//! pipelines are re-routed in place to the new pipelines and exporters. A replaced
//! pipeline drains into the exporters it had; a replaced exporter drains and flushes
//! (within `runtime.shutdown_timeout`) before its successor starts, so it can take the
//! same port. A change to `runtime` (but `reload_interval`) restarts the whole graph.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::component::output::{ComponentCounters, Edge, Route, SendPolicy, SourceOutput};
use crate::component::Shutdown;
use crate::config::{ComponentId, Config, ExporterConfig, PipelineConfig, PipelineId, Signal};
use crate::event::Batch;
use crate::pipeline::build::ComponentFactory;
use crate::pipeline::record::RecordExporter;
use crate::pipeline::reload_plan::{restarts_everything, Restarted};
use crate::pipeline::run::{RunError, RunOptions};
use crate::pipeline::stages::{
    run_exporter, run_pipeline, ExporterCounters, FlushDeadline, ProcessorStage,
};
use crate::pipeline::supervisor::{supervise, Backoff, SourceEnd};
use crate::pipeline::ticker::{DepthProbe, Ticker};
use crate::telemetry::names;

/// A running exporter.
struct RunningExporter {
    config: ExporterConfig,
    edge: Edge,
    task: JoinHandle<()>,
    deadline: FlushDeadline,
}

/// A running pipeline.
struct RunningPipeline {
    config: PipelineConfig,
    tx: mpsc::Sender<Batch>,
    route: Route,
    task: JoinHandle<()>,
}

/// A running (supervised) source.
struct RunningSource {
    route: Route,
    stop: watch::Sender<bool>,
    /// Tells this instance's end from an earlier one's.
    generation: u64,
}

/// The self-telemetry ticker task.
struct RunningTicker {
    ticker: Arc<Ticker>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The graph of one configuration, running.
pub struct Graph {
    config: Config,
    factory: Arc<dyn ComponentFactory>,
    exporters: BTreeMap<ComponentId, RunningExporter>,
    pipelines: BTreeMap<PipelineId, RunningPipeline>,
    sources: BTreeMap<ComponentId, RunningSource>,
    /// Every source task ever started, with its id and generation.
    source_tasks: JoinSet<(ComponentId, u64, SourceEnd)>,
    /// How the current instance of each source ended, if it did.
    ended: BTreeMap<ComponentId, SourceEnd>,
    generation: u64,
    record: Option<(Edge, JoinHandle<()>, FlushDeadline)>,
    ticker: Option<RunningTicker>,
    /// Pipelines and exporters a reload replaced, still draining or flushing.
    retiring: Vec<JoinHandle<()>>,
}

impl Graph {
    /// Starts `config` (validated) with components from `factory`.
    pub fn start(
        config: &Config,
        options: &RunOptions,
        factory: Arc<dyn ComponentFactory>,
    ) -> Result<Self, RunError> {
        let mut graph = Self {
            config: config.clone(),
            factory,
            exporters: BTreeMap::new(),
            pipelines: BTreeMap::new(),
            sources: BTreeMap::new(),
            source_tasks: JoinSet::new(),
            ended: BTreeMap::new(),
            generation: 0,
            record: None,
            ticker: None,
            retiring: Vec::new(),
        };
        if let Some(path) = &options.record {
            let recorder = RecordExporter::open(path, options.append_record).map_err(|error| {
                RunError::Record {
                    path: path.clone(),
                    error,
                }
            })?;
            let deadline = FlushDeadline::new(config.runtime.shutdown_timeout);
            let (edge, task) = graph.spawn_exporter(
                "record",
                Box::new(recorder),
                exporter_counters("record", "record"),
                deadline.clone(),
            );
            graph.record = Some((edge, task, deadline));
            tracing::info!(file = %path.display(), "recording source events");
        }
        for (id, exporter) in &config.exporters {
            graph.start_exporter(id, exporter, None);
        }
        for id in config.pipelines.keys() {
            graph.start_pipeline(id);
        }
        for id in config.sources.keys() {
            graph.start_source(id);
        }
        graph.restart_ticker();
        tracing::info!(
            sources = config.sources.len(),
            pipelines = config.pipelines.len(),
            exporters = config.exporters.len(),
            "kotel running"
        );
        Ok(graph)
    }

    /// The configuration running.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the running configuration with `new` (validated), restarting only what
    /// changed (see the module doc). Returns the components it restarted, by kind.
    pub async fn apply(
        mut self,
        new: &Config,
        options: &RunOptions,
    ) -> Result<(Self, Restarted), RunError> {
        if restarts_everything(&self.config, new) {
            tracing::info!("runtime settings changed: restarting every component");
            let factory = Arc::clone(&self.factory);
            self.shutdown().await;
            let graph = Self::start(new, options, factory)?;
            let everything = Restarted::everything(new);
            return Ok((graph, everything));
        }
        let old = std::mem::replace(&mut self.config, new.clone());
        let plan = Restarted::plan(&old, new);
        let timeout = new.runtime.shutdown_timeout;
        // Kept pipelines take their new source and exporter lists.
        for (id, pipeline) in &mut self.pipelines {
            if let Some(config) = new.pipelines.get(id) {
                pipeline.config = config.clone();
            }
        }

        // The ticker holds edges to the exporters: it stops now, so a replaced exporter's
        // input can close, and starts again over the new set at the end.
        if let Some(ticker) = self.ticker.take() {
            stop_ticker(ticker).await;
        }

        self.stop_sources(&plan.sources, timeout).await;
        self.replace_exporters(&plan.exporters, new, flush_budget(timeout));
        let replaced_pipelines = self.replace_pipelines(&plan.pipelines, new);
        self.route_and_start_sources(&plan.sources, new);
        // Replaced pipelines drain into the exporters they had, which then flush.
        for pipeline in replaced_pipelines {
            let RunningPipeline {
                tx, route, task, ..
            } = pipeline;
            drop((tx, route));
            self.retiring.push(task);
        }
        self.restart_ticker();
        tracing::info!(
            sources = plan.sources.len(),
            pipelines = plan.pipelines.len(),
            exporters = plan.exporters.len(),
            "new configuration applied; only changed components restarted"
        );
        Ok((self, plan))
    }

    /// Stops the sources in `ids` first (nothing new enters what is replaced) and waits
    /// for them up to `timeout`.
    async fn stop_sources(&mut self, ids: &BTreeSet<ComponentId>, timeout: Duration) {
        let mut stopping = Vec::new();
        for id in ids {
            if let Some(source) = self.sources.remove(id) {
                let _ = source.stop.send(true);
                self.ended.remove(id);
                stopping.push((id.clone(), source.generation));
            }
        }
        self.await_sources(&stopping, timeout).await;
    }

    /// Replaces the exporters in `ids`: a replaced one flushes within `budget` once
    /// nothing sends to it; its successor's channel takes batches at once, and the
    /// successor itself starts when the old one is done (so it can bind the same port).
    fn replace_exporters(&mut self, ids: &BTreeSet<ComponentId>, new: &Config, budget: Duration) {
        let flush_by = tokio::time::Instant::now() + budget;
        self.retiring.retain(|task| !task.is_finished());
        for id in ids {
            let previous = self.exporters.remove(id).map(|old| {
                old.deadline.set(flush_by);
                old.task
            });
            match (new.exporters.get(id), previous) {
                (Some(config), previous) => self.start_exporter(id, &config.clone(), previous),
                (None, Some(task)) => self.retiring.push(task),
                (None, None) => {}
            }
        }
    }

    /// Starts the new pipelines in `ids` (processors of an unchanged id and config share
    /// what they share, e.g. the CRI service, with the instances they replace) and routes
    /// every pipeline to its exporters; returns the replaced ones, still draining.
    fn replace_pipelines(
        &mut self,
        ids: &BTreeSet<PipelineId>,
        new: &Config,
    ) -> Vec<RunningPipeline> {
        let mut replaced = Vec::new();
        for id in ids {
            if let Some(old) = self.pipelines.remove(id) {
                replaced.push(old);
            }
            if new.pipelines.contains_key(id) {
                self.start_pipeline(id);
            }
        }
        self.route_pipelines();
        replaced
    }

    /// Kept sources feed the new set of pipelines; the ones in `ids` start anew.
    fn route_and_start_sources(&mut self, ids: &BTreeSet<ComponentId>, new: &Config) {
        for id in self.sources.keys().cloned().collect::<Vec<_>>() {
            let edges = self.source_edges(&id);
            self.sources[&id].route.set(edges);
        }
        for id in ids {
            if new.sources.contains_key(id) {
                self.start_source(id);
            }
        }
    }

    /// Waits for the next source task to end; never completes while none runs. Ends of
    /// instances a reload replaced are skipped.
    pub async fn next_source_end(&mut self) {
        loop {
            let Some(joined) = self.source_tasks.join_next().await else {
                return std::future::pending().await;
            };
            let Ok((id, generation, end)) = joined else {
                continue;
            };
            if self
                .sources
                .get(&id)
                .is_some_and(|s| s.generation == generation)
            {
                self.ended.insert(id, end);
                return;
            }
        }
    }

    /// True when every source has finished on its own (none was rejected by the kernel:
    /// the agent then stays up to report it).
    pub fn all_sources_finished(&self) -> bool {
        !self.sources.is_empty()
            && self
                .sources
                .keys()
                .all(|id| matches!(self.ended.get(id), Some(SourceEnd::Finished)))
    }

    /// Stops everything in order: sources stop (their edges close), pipelines drain into
    /// the exporter channels, the last telemetry snapshot follows them, then the exporters
    /// drain and flush, by `runtime.shutdown_timeout`. True if it timed out.
    pub async fn shutdown(mut self) -> bool {
        let timeout = self.config.runtime.shutdown_timeout;
        let flush_by = tokio::time::Instant::now() + flush_budget(timeout);
        for exporter in self.exporters.values() {
            exporter.deadline.set(flush_by);
        }
        if let Some((_, _, deadline)) = &self.record {
            deadline.set(flush_by);
        }
        for source in self.sources.values() {
            let _ = source.stop.send(true);
        }
        let telemetry_on = !self.config.telemetry.interval.is_zero();
        let drain = async move {
            while self.source_tasks.join_next().await.is_some() {}
            self.sources.clear();
            let ticker = self.ticker.take();
            let final_ticker = match ticker {
                Some(t) => {
                    let _ = t.stop.send(true);
                    let _ = t.task.await;
                    Some(t.ticker)
                }
                None => None,
            };
            let pipelines = std::mem::take(&mut self.pipelines);
            for (_, pipeline) in pipelines {
                drop(pipeline.tx);
                drop(pipeline.route);
                join("pipeline", pipeline.task).await;
            }
            for task in std::mem::take(&mut self.retiring) {
                join("replaced", task).await;
            }
            if let (true, Some(ticker)) = (telemetry_on, &final_ticker) {
                ticker.send_snapshot().await;
            }
            drop(final_ticker);
            let mut tasks = Vec::new();
            for (_, exporter) in std::mem::take(&mut self.exporters) {
                drop(exporter.edge);
                tasks.push(exporter.task);
            }
            if let Some((edge, task, _)) = self.record.take() {
                drop(edge);
                tasks.push(task);
            }
            for task in tasks {
                join("exporter", task).await;
            }
        };
        let timed_out = tokio::time::timeout(timeout, drain).await.is_err();
        if timed_out {
            tracing::warn!(timeout = ?timeout, "shutdown did not finish in time; unsent events are lost");
        } else {
            tracing::info!("shutdown complete");
        }
        timed_out
    }

    fn policy(&self) -> SendPolicy {
        SendPolicy::from_runtime(&self.config.runtime)
    }

    fn spawn_exporter(
        &self,
        id: &str,
        exporter: Box<dyn crate::component::Exporter>,
        counters: ExporterCounters,
        deadline: FlushDeadline,
    ) -> (Edge, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(self.config.runtime.channel_capacity);
        let task = tokio::spawn(run_exporter(
            id.to_string(),
            rx,
            exporter,
            counters,
            deadline,
        ));
        (Edge::new(tx, self.policy()), task)
    }

    /// Starts exporter `id`: its channel takes batches at once; the exporter is built and
    /// runs once `after` (the instance it replaces) has finished.
    fn start_exporter(
        &mut self,
        id: &ComponentId,
        config: &ExporterConfig,
        after: Option<JoinHandle<()>>,
    ) {
        let deadline = FlushDeadline::new(self.config.runtime.shutdown_timeout);
        let (tx, rx) = mpsc::channel(self.config.runtime.channel_capacity);
        let name = id.to_string();
        let counters = exporter_counters("exporter", &name);
        let (factory, built_id, built_config) =
            (Arc::clone(&self.factory), id.clone(), config.clone());
        let flush_deadline = deadline.clone();
        let task = tokio::spawn(async move {
            if let Some(previous) = after {
                join("exporter", previous).await;
            }
            let exporter = factory.exporter(&built_id, &built_config);
            run_exporter(name, rx, exporter, counters, flush_deadline).await;
        });
        self.exporters.insert(
            id.clone(),
            RunningExporter {
                config: config.clone(),
                edge: Edge::new(tx, self.policy()),
                task,
                deadline,
            },
        );
    }

    /// The edges of the exporters `pipeline` lists that are running.
    fn exporter_edges(&self, pipeline: &PipelineConfig) -> Vec<Edge> {
        pipeline
            .exporters
            .iter()
            .filter_map(|id| self.exporters.get(id).map(|e| e.edge.clone()))
            .collect()
    }

    /// Points every pipeline at the exporters running now.
    fn route_pipelines(&self) {
        for pipeline in self.pipelines.values() {
            pipeline.route.set(self.exporter_edges(&pipeline.config));
        }
    }

    fn start_pipeline(&mut self, id: &PipelineId) {
        let config = self.config.pipelines[id].clone();
        let (tx, rx) = mpsc::channel(self.config.runtime.channel_capacity);
        let name = id.to_string();
        let stages = config
            .processors
            .iter()
            .map(|p| self.processor_stage(p))
            .collect();
        let route = Route::new(self.exporter_edges(&config));
        let task = tokio::spawn(run_pipeline(
            rx,
            stages,
            route.clone(),
            ComponentCounters::new("pipeline", &name),
        ));
        self.pipelines.insert(
            id.clone(),
            RunningPipeline {
                config,
                tx,
                route,
                task,
            },
        );
    }

    fn processor_stage(&self, id: &ComponentId) -> ProcessorStage {
        let name = id.to_string();
        let processor = self.factory.processor(id, &self.config.processors[id]);
        ProcessorStage {
            filtered: ComponentCounters::dropped("processor", &name, processor.drop_reason()),
            processor,
            counters: ComponentCounters::new("processor", &name),
            panicked: ComponentCounters::dropped("processor", &name, "panic"),
            id: name,
        }
    }

    /// The edges source `id` feeds: every running pipeline that lists it, and the recorder.
    fn source_edges(&self, id: &ComponentId) -> Vec<Edge> {
        let policy = self.policy();
        let mut edges: Vec<Edge> = self
            .pipelines
            .values()
            .filter(|p| p.config.sources.contains(id))
            .map(|p| Edge::new(p.tx.clone(), policy))
            .collect();
        if let Some((edge, _, _)) = &self.record {
            edges.push(edge.clone());
        }
        edges
    }

    fn start_source(&mut self, id: &ComponentId) {
        let config = self.config.sources[id].clone();
        let route = Route::new(self.source_edges(id));
        let output = SourceOutput::routed(id, route.clone());
        let (stop, stopped) = watch::channel(false);
        let backoff = Backoff {
            initial: self.config.runtime.restart_backoff_initial,
            max: self.config.runtime.restart_backoff_max,
        };
        self.generation += 1;
        let generation = self.generation;
        let (build_id, build_config, factory) = (id.clone(), config, Arc::clone(&self.factory));
        let build = move || factory.source(&build_id, &build_config);
        let task_id = id.clone();
        let supervised = supervise(id.clone(), build, output, Shutdown::new(stopped), backoff);
        self.source_tasks
            .spawn(async move { (task_id, generation, supervised.await) });
        self.sources.insert(
            id.clone(),
            RunningSource {
                route,
                stop,
                generation,
            },
        );
    }

    /// Waits (at most `timeout`) for the given source instances to end.
    async fn await_sources(&mut self, instances: &[(ComponentId, u64)], timeout: Duration) {
        let mut waiting: BTreeSet<(ComponentId, u64)> = instances.iter().cloned().collect();
        let wait = async {
            while !waiting.is_empty() {
                match self.source_tasks.join_next().await {
                    Some(Ok((id, generation, end))) => {
                        if !waiting.remove(&(id.clone(), generation))
                            && self
                                .sources
                                .get(&id)
                                .is_some_and(|s| s.generation == generation)
                        {
                            self.ended.insert(id, end);
                        }
                    }
                    Some(Err(_)) => {}
                    None => break,
                }
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            tracing::warn!(timeout = ?timeout, "a replaced source did not stop in time");
        }
    }

    /// Starts the ticker anew over the exporters and channels running now.
    fn restart_ticker(&mut self) {
        // Self-telemetry is metrics: it goes to the exporters of metrics pipelines (an
        // exporter that only carries logs may face a backend that takes nothing else), and
        // to those that print it locally.
        let metrics_exporters: BTreeSet<&ComponentId> = self
            .config
            .pipelines
            .iter()
            .filter(|(id, _)| id.signal() == Signal::Metrics)
            .flat_map(|(_, pipeline)| &pipeline.exporters)
            .collect();
        let edges = self
            .exporters
            .iter()
            .filter(|(id, e)| {
                metrics_exporters.contains(id)
                    || e.config.takes_telemetry_outside_metrics_pipelines()
            })
            .map(|(_, e)| e.edge.clone())
            .collect();
        let mut probes: Vec<DepthProbe> = self
            .exporters
            .iter()
            .map(|(id, e)| DepthProbe {
                channel: id.to_string(),
                tx: e.edge.downgrade(),
            })
            .collect();
        probes.extend(self.pipelines.iter().map(|(id, p)| DepthProbe {
            channel: format!("pipelines::{id}"),
            tx: p.tx.downgrade(),
        }));
        if let Some((edge, _, _)) = &self.record {
            probes.push(DepthProbe {
                channel: "record".to_string(),
                tx: edge.downgrade(),
            });
        }
        let ticker = Ticker::new(edges, probes);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(
            ticker
                .clone()
                .run(self.config.telemetry.interval, Shutdown::new(stopped)),
        );
        self.ticker = Some(RunningTicker { ticker, stop, task });
    }
}

async fn stop_ticker(ticker: RunningTicker) {
    let _ = ticker.stop.send(true);
    let _ = ticker.task.await;
}

/// How long after shutdown begins the exporters must be done flushing: the shutdown
/// timeout less a margin (a tenth, at most 250 ms) in which they count and log what they
/// abandon and the runtime finishes, so the whole shutdown ends within the timeout.
pub fn flush_budget(shutdown_timeout: Duration) -> Duration {
    shutdown_timeout.saturating_sub((shutdown_timeout / 10).min(Duration::from_millis(250)))
}

fn exporter_counters(kind: &'static str, id: &str) -> ExporterCounters {
    ExporterCounters {
        common: ComponentCounters::new(kind, id),
        failed: ComponentCounters::dropped(kind, id, "export_failed"),
    }
}

/// Waits for a task; one that panicked is logged and counted (its channel then refuses
/// batches, which the senders count as dropped).
async fn join(kind: &'static str, task: JoinHandle<()>) {
    if let Err(e) = task.await {
        metrics::counter!(names::COMPONENT_ERRORS, names::COMPONENT_KIND => kind).increment(1);
        tracing::error!(component_kind = kind, error = %e, "a {kind} task ended abnormally");
    }
}
