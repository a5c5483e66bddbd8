//! Runtime tests: full lifecycle build -> run -> feed -> shutdown with substitute
//! components, drop counting under a slow exporter, flush at shutdown, restarts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::component::{
    BoxFuture, ComponentError, Exporter, Processor, Shutdown, Source, SourceOutput,
};
use crate::config::{self, ComponentId, Config, ExporterConfig, ProcessorConfig, SourceConfig};
use crate::event::samples::tcp_event;
use crate::event::{Batch, Event};
use crate::pipeline::build::{ComponentFactory, Components};
use crate::pipeline::{run_with, RunOptions, RunReport, StopReason};
use crate::telemetry::{self, names};

fn parse(yaml: &str) -> Config {
    config::parse_str(yaml, &|_| None).unwrap_or_else(|e| panic!("{e}"))
}

/// What the exporter double saw.
#[derive(Default)]
struct Seen {
    events: AtomicUsize,
    flushed_after: Mutex<Option<usize>>,
}

/// Exporter that sleeps per batch and records what it received and when it was flushed.
struct SlowExporter {
    delay: Duration,
    seen: Arc<Seen>,
}

impl Exporter for SlowExporter {
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            let tcp = batch.iter().filter(|e| matches!(e, Event::Tcp(_))).count();
            self.seen.events.fetch_add(tcp, Ordering::SeqCst);
            Ok(())
        })
    }

    fn flush(&mut self, _: tokio::time::Instant) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            *self.seen.flushed_after.lock().unwrap() =
                Some(self.seen.events.load(Ordering::SeqCst));
            Ok(())
        })
    }
}

#[derive(Clone)]
/// Source that emits `batches` batches of `per_batch` events as fast as it can, fails
/// `failures` times first, and then either finishes or waits for shutdown.
struct BurstSource {
    batches: usize,
    per_batch: usize,
    attempts: Arc<AtomicUsize>,
    failures: usize,
    wait_for_shutdown: bool,
    /// Fail every attempt as a verifier rejection instead.
    rejected: bool,
}

impl Source for BurstSource {
    fn run(
        self: Box<Self>,
        out: SourceOutput,
        mut shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        Box::pin(async move {
            if self.rejected {
                self.attempts.fetch_add(1, Ordering::SeqCst);
                return Err(ComponentError::Rejected {
                    program: "kotel_tcp_state".into(),
                    reason: "combined stack 576 > 512".into(),
                });
            }
            if self.attempts.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err(ComponentError::Input("injected failure".into()));
            }
            for _ in 0..self.batches {
                out.send((0..self.per_batch).map(|i| tcp_event(i as u16)).collect())
                    .await;
            }
            if self.wait_for_shutdown {
                shutdown.requested().await;
            }
            Ok(())
        })
    }
}

/// Every source is a copy of `source` (sharing its attempt counter); every exporter is a
/// [`SlowExporter`] reporting into `seen`.
struct Doubles {
    source: BurstSource,
    exporter_delay: Duration,
    seen: Arc<Seen>,
}

impl Doubles {
    fn new(
        batches: usize,
        per_batch: usize,
        wait_for_shutdown: bool,
        exporter_delay: Duration,
    ) -> Self {
        let source = BurstSource {
            batches,
            per_batch,
            attempts: Arc::new(AtomicUsize::new(0)),
            failures: 0,
            wait_for_shutdown,
            rejected: false,
        };
        Self {
            source,
            exporter_delay,
            seen: Arc::new(Seen::default()),
        }
    }
}

impl ComponentFactory for Doubles {
    fn source(&self, _: &ComponentId, _: &SourceConfig) -> Box<dyn Source> {
        Box::new(self.source.clone())
    }
    fn processor(&self, id: &ComponentId, c: &ProcessorConfig) -> Box<dyn Processor> {
        Components::default().processor(id, c)
    }
    fn exporter(&self, _: &ComponentId, _: &ExporterConfig) -> Box<dyn Exporter> {
        Box::new(SlowExporter {
            delay: self.exporter_delay,
            seen: self.seen.clone(),
        })
    }
}

fn pipeline_yaml(source: &str, exporter: &str, extra: &str) -> String {
    format!(
        "sources:\n  replay/{source}: {{ path: /dev/null }}\nexporters:\n  debug/{exporter}: {{}}\n\
         pipelines:\n  logs/{source}: {{ sources: [replay/{source}], exporters: [debug/{exporter}] }}\n\
         telemetry: {{ interval: 0s }}\n{extra}"
    )
}

/// Runs `config` with `factory` until every source finishes.
async fn run_to_end(config: &Config, factory: impl ComponentFactory) -> RunReport {
    run_with(
        config,
        RunOptions::default(),
        std::future::pending(),
        Arc::new(factory),
    )
    .await
    .unwrap()
}

fn counter(name: &str, id: &str, reason: Option<&str>) -> f64 {
    let mut labels = vec![(names::COMPONENT_ID, id)];
    if let Some(r) = reason {
        labels.push((names::REASON, r));
    }
    telemetry::snapshot().counter_sum(name, &labels)
}

#[tokio::test]
async fn slow_exporter_drops_are_counted_and_everything_is_accounted_for() {
    let config = parse(&pipeline_yaml(
        "slowtest",
        "slowtest",
        "runtime: { channel_capacity: 2 }\n",
    ));
    let factory = Doubles::new(200, 10, false, Duration::from_millis(5));
    let seen = factory.seen.clone();
    let report = run_to_end(&config, factory).await;
    assert_eq!(report.reason, StopReason::SourcesFinished);
    assert!(!report.timed_out);

    let emitted = 2000.0;
    let source_sent = counter(names::EVENTS_SENT, "replay/slowtest", None);
    let source_dropped = counter(names::EVENTS_DROPPED, "replay/slowtest", Some("queue_full"));
    let pipeline_dropped = counter(names::EVENTS_DROPPED, "logs/slowtest", Some("queue_full"));
    let exported = counter(names::EVENTS_SENT, "debug/slowtest", None);
    assert_eq!(
        source_sent + source_dropped,
        emitted,
        "every emitted event is sent or dropped"
    );
    assert!(
        source_dropped + pipeline_dropped > 0.0,
        "a 5 ms exporter behind 2-slot channels must drop"
    );
    assert_eq!(
        exported as usize,
        seen.events.load(Ordering::SeqCst),
        "exporter count matches what it saw"
    );
    assert_eq!(
        source_sent - pipeline_dropped,
        exported,
        "what the pipeline passed on was exported"
    );
}

#[tokio::test]
async fn shutdown_drains_and_flushes_after_the_last_batch() {
    let config = parse(&pipeline_yaml(
        "flushtest",
        "flushtest",
        "runtime: { channel_capacity: 1000, when_full: block, block_timeout: 5s }\n",
    ));
    let factory = Doubles::new(50, 4, true, Duration::from_millis(2));
    let seen = factory.seen.clone();
    let stop = tokio::time::sleep(Duration::from_millis(20));
    let report = run_with(&config, RunOptions::default(), stop, Arc::new(factory))
        .await
        .unwrap();
    assert_eq!(report.reason, StopReason::Requested);
    assert!(!report.timed_out);
    // The exporter was still busy when stop came (50 x 2 ms > 20 ms): all 200 events
    // must have been drained, and flush must have come after the last of them.
    assert_eq!(seen.events.load(Ordering::SeqCst), 200);
    assert_eq!(*seen.flushed_after.lock().unwrap(), Some(200));
}

#[tokio::test]
async fn a_failing_source_is_restarted_with_backoff_and_counted() {
    let extra = "runtime: { restart_backoff_initial: 10ms, restart_backoff_max: 20ms }\n";
    let config = parse(&pipeline_yaml("restarttest", "restarttest", extra));
    let mut factory = Doubles::new(1, 3, false, Duration::ZERO);
    factory.source.failures = 3;
    let (seen, attempts) = (factory.seen.clone(), factory.source.attempts.clone());
    let started = std::time::Instant::now();
    let report = run_to_end(&config, factory).await;
    assert_eq!(report.reason, StopReason::SourcesFinished);
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    assert!(
        started.elapsed() >= Duration::from_millis(10 + 20 + 20),
        "backoff waited"
    );
    assert_eq!(
        counter(names::COMPONENT_ERRORS, "replay/restarttest", None),
        3.0
    );
    assert_eq!(
        counter(names::SOURCE_RESTARTS, "replay/restarttest", None),
        3.0
    );
    assert_eq!(seen.events.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_rejected_source_fails_once_and_is_not_restarted() {
    let extra = "runtime: { restart_backoff_initial: 10ms, restart_backoff_max: 20ms }\n";
    let config = parse(&pipeline_yaml("rejecttest", "rejecttest", extra));
    let mut factory = Doubles::new(1, 3, false, Duration::ZERO);
    factory.source.rejected = true;
    let attempts = factory.source.attempts.clone();
    // The agent stays up after the rejection (it reports it); it stops when asked to.
    let stop = tokio::time::sleep(Duration::from_millis(300));
    let report = run_with(&config, RunOptions::default(), stop, Arc::new(factory))
        .await
        .unwrap();
    assert_eq!(report.reason, StopReason::Requested);
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "not retried");
    assert_eq!(
        counter(names::COMPONENT_ERRORS, "replay/rejecttest", None),
        1.0
    );
    assert_eq!(
        counter(names::SOURCE_RESTARTS, "replay/rejecttest", None),
        0.0
    );
}

#[tokio::test]
async fn shutdown_gives_up_after_the_timeout_when_an_exporter_hangs() {
    let config = parse(&pipeline_yaml(
        "hangtest",
        "hangtest",
        "runtime: { shutdown_timeout: 200ms, when_full: block }\n",
    ));
    let factory = Doubles::new(5, 1, true, Duration::from_secs(3600));
    let started = std::time::Instant::now();
    let stop = tokio::time::sleep(Duration::from_millis(10));
    let report = run_with(&config, RunOptions::default(), stop, Arc::new(factory))
        .await
        .unwrap();
    assert!(report.timed_out);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn replay_and_record_round_trip_through_the_real_components() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let recorded = dir.path().join("out.jsonl");
    let events: Vec<Event> = (0..600).map(|i| tcp_event(i as u16)).collect();
    let mut text: String = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    text.push_str("this line is not an event\n\n");
    std::fs::write(&input, text).unwrap();
    let yaml = format!(
        "sources:\n  replay/rt: {{ path: {} }}\nexporters:\n  debug/rt: {{}}\n\
         pipelines:\n  logs/rt: {{ sources: [replay/rt], exporters: [debug/rt] }}\n\
         runtime: {{ when_full: block, block_timeout: 5s }}\ntelemetry: {{ interval: 0s }}\n",
        input.display()
    );
    let config = parse(&yaml);
    let seen = Arc::new(Seen::default());
    struct RealSourceSlowSink(Arc<Seen>);
    impl ComponentFactory for RealSourceSlowSink {
        fn source(&self, id: &ComponentId, c: &SourceConfig) -> Box<dyn Source> {
            Components::default().source(id, c)
        }
        fn processor(&self, id: &ComponentId, c: &ProcessorConfig) -> Box<dyn Processor> {
            Components::default().processor(id, c)
        }
        fn exporter(&self, _: &ComponentId, _: &ExporterConfig) -> Box<dyn Exporter> {
            Box::new(SlowExporter {
                delay: Duration::ZERO,
                seen: self.0.clone(),
            })
        }
    }
    let options = RunOptions {
        record: Some(recorded.clone()),
        ..RunOptions::default()
    };
    let report = run_with(
        &config,
        options,
        std::future::pending(),
        Arc::new(RealSourceSlowSink(seen.clone())),
    )
    .await
    .unwrap();
    assert_eq!(report.reason, StopReason::SourcesFinished);
    assert_eq!(seen.events.load(Ordering::SeqCst), 600);
    let back: Vec<Event> = std::fs::read_to_string(&recorded)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back, events);
    let bad = telemetry::snapshot().counter_sum(names::DECODE_ERRORS, &[("source", "replay/rt")]);
    assert_eq!(bad, 1.0, "the bad line is counted, not fatal");
}

/// Panics on its first batch, then exports normally.
struct PanicsOnce(Arc<Seen>, bool);

impl Exporter for PanicsOnce {
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>> {
        Box::pin(async move {
            if !std::mem::replace(&mut self.1, true) {
                panic!("injected exporter panic");
            }
            self.0.events.fetch_add(batch.len(), Ordering::SeqCst);
            Ok(())
        })
    }
    fn flush(&mut self, _: tokio::time::Instant) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Panics on batches whose first event goes to port 1.
struct PanicsOnPortOne;

impl Processor for PanicsOnPortOne {
    fn process(&mut self, batch: Batch) -> Batch {
        if matches!(batch.first(), Some(Event::Tcp(e)) if e.remote_port == 1) {
            panic!("injected processor panic");
        }
        batch
    }
}

#[tokio::test]
async fn a_panicking_exporter_or_processor_loses_one_batch_counted_and_keeps_running() {
    let yaml = "sources:\n  replay/panictest: { path: /dev/null }\nprocessors:\n  filter/panictest: {}\n\
                exporters:\n  debug/panictest: {}\npipelines:\n  logs/panictest: { sources: [replay/panictest], \
                processors: [filter/panictest], exporters: [debug/panictest] }\n\
                runtime: { when_full: block, block_timeout: 5s }\ntelemetry: { interval: 0s }\n";
    let config = parse(yaml);
    struct Factory(Arc<Seen>);
    impl ComponentFactory for Factory {
        fn source(&self, _: &ComponentId, _: &SourceConfig) -> Box<dyn Source> {
            // Batches of one event each, to ports 0, 1, 2, 3, 4.
            struct Five;
            impl Source for Five {
                fn run(
                    self: Box<Self>,
                    out: SourceOutput,
                    _: Shutdown,
                ) -> BoxFuture<'static, Result<(), ComponentError>> {
                    Box::pin(async move {
                        for port in 0..5 {
                            out.send(vec![tcp_event(port)]).await;
                        }
                        Ok(())
                    })
                }
            }
            Box::new(Five)
        }
        fn processor(&self, _: &ComponentId, _: &ProcessorConfig) -> Box<dyn Processor> {
            Box::new(PanicsOnPortOne)
        }
        fn exporter(&self, _: &ComponentId, _: &ExporterConfig) -> Box<dyn Exporter> {
            Box::new(PanicsOnce(self.0.clone(), false))
        }
    }
    let seen = Arc::new(Seen::default());
    let report = run_to_end(&config, Factory(seen.clone())).await;
    assert_eq!(report.reason, StopReason::SourcesFinished);
    // Port 0 dies in the exporter's first call, port 1 in the processor; 2, 3, 4 arrive.
    assert_eq!(seen.events.load(Ordering::SeqCst), 3);
    assert_eq!(
        counter(names::EVENTS_DROPPED, "filter/panictest", Some("panic")),
        1.0
    );
    assert_eq!(
        counter(
            names::EVENTS_DROPPED,
            "debug/panictest",
            Some("export_failed")
        ),
        1.0
    );
    assert_eq!(
        counter(names::COMPONENT_ERRORS, "filter/panictest", None),
        1.0
    );
    assert_eq!(
        counter(names::COMPONENT_ERRORS, "debug/panictest", None),
        1.0
    );
}
