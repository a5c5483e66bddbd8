//! The whole agent in-process: a `pipeline.yaml` text run by kotel's real runtime with
//! its real sources and processors, every exporter replaced by a capture, so tests can
//! look at the exact events a backend would get.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kotel::component::{BoxFuture, ComponentError, Exporter, Processor, Source};
use kotel::config::{ComponentId, ExporterConfig, ProcessorConfig, SourceConfig};
use kotel::event::{Batch, Event};
use kotel::pipeline::build::{ComponentFactory, Components};
use kotel::pipeline::RunOptions;
use tokio::sync::oneshot;

/// Everything the exporters were given, in arrival order.
pub type Captured = Arc<Mutex<Vec<Event>>>;

/// A running agent.
pub struct Agent {
    captured: Captured,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Agent {
    /// Validates `yaml` (panicking with every error) and runs it on a runtime of its own,
    /// every exporter replaced by a capture.
    pub fn start(yaml: &str) -> Agent {
        let captured = Captured::default();
        let factory = Arc::new(CaptureFactory {
            real: Components::default(),
            captured: captured.clone(),
        });
        Self::spawn(yaml, factory, captured)
    }

    /// [`Agent::start`] with the real exporters (OTLP, Prometheus, ...): nothing is
    /// captured.
    pub fn start_exporting(yaml: &str) -> Agent {
        Self::spawn(yaml, Arc::new(Components::default()), Captured::default())
    }

    fn spawn(yaml: &str, factory: Arc<dyn ComponentFactory>, captured: Captured) -> Agent {
        kotel::telemetry::install();
        let config = kotel::config::parse_str(yaml, &|var| std::env::var(var).ok())
            .unwrap_or_else(|e| panic!("test pipeline is invalid: {e}\n{yaml}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                let stop = async move {
                    let _ = stopped.await;
                };
                if let Err(e) =
                    kotel::pipeline::run_with(&config, RunOptions::default(), stop, factory).await
                {
                    eprintln!("agent run failed: {e}");
                }
            });
        });
        Agent {
            captured,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A copy of everything captured so far.
    pub fn events(&self) -> Vec<Event> {
        self.captured.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for a captured event matching `wanted`; returns the first.
    pub fn wait_for(&self, timeout: Duration, wanted: impl Fn(&Event) -> bool) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.captured.lock().unwrap().iter().find(|e| wanted(e)) {
                return Some(found.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the agent (ordered shutdown: held events are released) and waits for it.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The real components, except that every exporter captures.
struct CaptureFactory {
    real: Components,
    captured: Captured,
}

impl ComponentFactory for CaptureFactory {
    fn source(&self, id: &ComponentId, config: &SourceConfig) -> Box<dyn Source> {
        self.real.source(id, config)
    }

    fn processor(&self, id: &ComponentId, config: &ProcessorConfig) -> Box<dyn Processor> {
        self.real.processor(id, config)
    }

    fn exporter(&self, _: &ComponentId, _: &ExporterConfig) -> Box<dyn Exporter> {
        Box::new(Capture(self.captured.clone()))
    }
}

struct Capture(Captured);

impl Exporter for Capture {
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>> {
        self.0.lock().unwrap().extend(batch.iter().cloned());
        Box::pin(async { Ok(()) })
    }

    fn flush(&mut self, _: tokio::time::Instant) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async { Ok(()) })
    }
}
