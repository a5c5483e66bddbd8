//! The `otlp` exporter: metrics (from `aggregate`), logs (execs, file opens, TCP
//! events) and traces (HTTP exchanges) as OTLP over gRPC or HTTP/protobuf.
//!
//! `export` only encodes and queues, so a slow or absent backend never stalls the
//! pipeline; a sender task of its own sends the queue in order, retrying retryable
//! failures with exponential backoff and jitter (waiting at least what the server asks).
//! Memory is bounded by the queue's limits; everything dropped is counted by reason in
//! `kotel.exporter.otlp.dropped`.

pub mod config;
pub mod encode_logs;
pub mod encode_metrics;
pub mod encode_telemetry;
pub mod encode_traces;
pub mod queue;
pub mod resource;
pub mod tls;
pub mod transport;
pub mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tokio::sync::watch;

use crate::component::backoff::jittered;
use crate::component::kind::{Declared, ExporterType, Kind, Shared};
use crate::component::{BoxFuture, ComponentError, Exporter};
use crate::event::{Batch, Event, HttpEvent, MetricBatch, TelemetrySnapshot};
use crate::settings::{ComponentId, ConfigError, Signal};
use crate::telemetry::names;

pub use config::OtlpExporterConfig;
use queue::{Queue, Queued};
use transport::{Request, Transport};

/// The exporter.
pub struct OtlpExporter {
    component: String,
    resource: Resource,
    /// `None` when no endpoint is configured (the exporter is off).
    link: Option<Link>,
}

/// The queue and the sender task behind it.
struct Link {
    queue: Arc<Queue>,
    closing: Arc<AtomicBool>,
    /// Set at the flush deadline: the sender drops what it holds and what is queued.
    abandon: watch::Sender<bool>,
    idle: watch::Receiver<bool>,
    counters: Arc<Counters>,
}

impl Link {
    /// Waits until nothing is queued and the sender is not in the middle of a send (it
    /// marks itself busy before it takes a request from the queue).
    async fn idle(&mut self) {
        while !(self.queue.depth().0 == 0 && *self.idle.borrow()) {
            tokio::select! {
                _ = self.idle.changed() => {}
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
    }

    /// Gives up on everything not delivered: the sender drops the request it is sending,
    /// and every queued request is dropped, each counted as `shutdown`. Returns the
    /// requests that were queued.
    async fn abandon(&mut self) -> usize {
        let queued = self.queue.depth().0;
        let _ = self.abandon.send(true);
        self.queue.wake();
        // The sender answers at once; it may be gone (a panicked task), so not for long.
        let _ = tokio::time::timeout(ABANDON_GRACE, self.idle()).await;
        while let Some(item) = self.queue.pop() {
            self.counters
                .dropped(item.request.signal(), "shutdown", item.items);
        }
        self.counters.depth(&self.queue);
        queued
    }
}

/// How long the flush waits for the sender to drop what it holds once abandoned.
const ABANDON_GRACE: Duration = Duration::from_millis(50);

impl OtlpExporter {
    /// An exporter for `config`; spawns its sender on the current tokio runtime.
    pub fn new(component: &str, config: &OtlpExporterConfig) -> Self {
        let resource = resource::resource(&config.resolved_node_name(), &config.resource);
        let link = if config.endpoint.is_empty() {
            tracing::info!(component, "otlp exporter is off: no endpoint (set OTEL_EXPORTER_OTLP_ENDPOINT or exporters.{component}.endpoint)");
            None
        } else {
            start_link(component, config)
        };
        Self {
            component: component.to_string(),
            resource,
            link,
        }
    }

    /// The requests `batch` becomes.
    fn requests(&self, batch: &Batch) -> Vec<Queued> {
        let mut out = Vec::new();
        let metrics: Vec<&MetricBatch> = batch
            .iter()
            .filter_map(|e| match e {
                Event::Metrics(m) => Some(m),
                _ => None,
            })
            .collect();
        let snapshots: Vec<&TelemetrySnapshot> = batch
            .iter()
            .filter_map(|e| match e {
                Event::Telemetry(t) => Some(t),
                _ => None,
            })
            .collect();
        let points = encode_metrics::data_points(&metrics, &snapshots);
        if points > 0 {
            let request = encode_metrics::metrics_request(&self.resource, &metrics, &snapshots);
            out.push(queued(Request::Metrics(request), points as u64));
        }
        let logs: Vec<&Event> = batch.iter().filter(|e| encode_logs::is_log(e)).collect();
        if let Some(request) = encode_logs::logs_request(&self.resource, &logs) {
            out.push(queued(Request::Logs(request), logs.len() as u64));
        }
        let spans: Vec<&HttpEvent> = batch
            .iter()
            .filter_map(|e| match e {
                Event::Http(h) => Some(h),
                _ => None,
            })
            .collect();
        if let Some(request) = encode_traces::traces_request(&self.resource, &spans) {
            out.push(queued(Request::Traces(request), spans.len() as u64));
        }
        out
    }
}

fn queued(request: Request, items: u64) -> Queued {
    Queued {
        bytes: request.encoded_len(),
        request,
        items,
    }
}

impl Exporter for OtlpExporter {
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>> {
        Box::pin(async move {
            let Some(link) = &self.link else {
                return Ok(());
            };
            for item in self.requests(batch) {
                for dropped in link.queue.push(item) {
                    link.counters
                        .dropped(dropped.request.signal(), "queue_full", dropped.items);
                }
            }
            link.counters.depth(&link.queue);
            Ok(())
        })
    }

    fn flush(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let Some(link) = &mut self.link else {
                return Ok(());
            };
            // Send what is queued, one attempt each: shutdown does not wait out retries.
            link.closing.store(true, Ordering::Relaxed);
            link.queue.wake();
            if tokio::time::timeout_at(deadline, link.idle()).await.is_ok() {
                tracing::debug!(component = %self.component, "otlp exporter flushed");
                return Ok(());
            }
            let queued = link.abandon().await;
            tracing::warn!(component = %self.component, queued, "shutdown deadline reached with requests unsent: the one in flight and every queued one are dropped (kotel.exporter.otlp.dropped, reason=shutdown)");
            Ok(())
        })
    }
}

/// Starts the sender task; `None` (logged) when the transport cannot be built or no
/// runtime is there.
fn start_link(component: &str, config: &OtlpExporterConfig) -> Option<Link> {
    let transport = match Transport::new(config) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(component, error = %e, "otlp exporter cannot start");
            return None;
        }
    };
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let queue = Arc::new(Queue::new(config.queue.clone()));
    let closing = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::new(component));
    let (idle_tx, idle) = watch::channel(false);
    let (abandon, abandoned) = watch::channel(false);
    let sender = Sender {
        transport,
        queue: Arc::clone(&queue),
        closing: Arc::clone(&closing),
        abandoned,
        counters: Arc::clone(&counters),
        retry: config.retry.clone(),
        component: component.to_string(),
    };
    runtime.spawn(sender.run(idle_tx));
    tracing::info!(component, endpoint = %config.endpoint, protocol = ?config.protocol, "otlp exporter started");
    Some(Link {
        queue,
        closing,
        abandon,
        idle,
        counters,
    })
}

/// The sender task.
struct Sender {
    transport: Transport,
    queue: Arc<Queue>,
    closing: Arc<AtomicBool>,
    /// True once the flush gave up (see [`Link::abandon`]).
    abandoned: watch::Receiver<bool>,
    counters: Arc<Counters>,
    retry: config::RetryConfig,
    component: String,
}

impl Sender {
    async fn run(self, idle: watch::Sender<bool>) {
        loop {
            // Busy before taking anything: a flush that sees an empty queue and an idle
            // sender knows no request is in flight (a push can land between any check of
            // the queue and the pop).
            let _ = idle.send(false);
            match self.queue.pop() {
                Some(item) => {
                    self.send(item).await;
                    self.counters.depth(&self.queue);
                }
                None if self.closing.load(Ordering::Relaxed) => {
                    let _ = idle.send(true);
                    return;
                }
                None => {
                    let _ = idle.send(true);
                    tokio::select! {
                        () = self.queue.wait() => {}
                        () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
            }
        }
    }

    /// Sends `item`, retrying what is retryable until `max_elapsed` (or, once closing,
    /// not at all); counts the outcome.
    async fn send(&self, item: Queued) {
        let signal = item.request.signal();
        let started = Instant::now();
        let mut wait = self.retry.initial_interval;
        loop {
            let attempt = Instant::now();
            let mut abandoned = self.abandoned.clone();
            // Abandoned (or the exporter gone): drop it rather than start or finish a send.
            let outcome = tokio::select! {
                biased;
                _ = abandoned.wait_for(|a| *a) => {
                    self.counters.dropped(signal, "shutdown", item.items);
                    return;
                }
                outcome = self.transport.send(&item.request) => outcome,
            };
            self.counters.duration(signal, attempt.elapsed());
            match outcome {
                Ok(accepted) => {
                    let rejected = accepted.rejected.max(0) as u64;
                    if rejected > 0 {
                        tracing::warn!(component = %self.component, signal, rejected, message = %accepted.message, "backend rejected part of a request");
                        self.counters.dropped(signal, "partial_rejected", rejected);
                    }
                    self.counters
                        .sent(signal, item.items.saturating_sub(rejected), item.bytes);
                    return;
                }
                Err(e) if !e.retryable => {
                    tracing::warn!(component = %self.component, signal, error = %e.message, "backend refused a request; dropped");
                    self.counters.dropped(signal, "rejected", item.items);
                    return;
                }
                Err(e) => {
                    if self.closing.load(Ordering::Relaxed) {
                        self.counters.dropped(signal, "shutdown", item.items);
                        return;
                    }
                    let delay = jittered(wait).max(e.retry_after.unwrap_or_default());
                    if started.elapsed() + delay > self.retry.max_elapsed {
                        tracing::warn!(component = %self.component, signal, error = %e.message, "giving a request up after retrying");
                        self.counters
                            .dropped(signal, "retries_exhausted", item.items);
                        return;
                    }
                    tracing::debug!(component = %self.component, signal, error = %e.message, ?delay, "retrying");
                    self.counters.retried(signal);
                    self.back_off(delay).await;
                    wait = (wait * 2).min(self.retry.max_interval);
                }
            }
        }
    }

    /// Waits `delay` before the next attempt, or less when shutdown begins meanwhile (the
    /// flush wakes the queue): shutdown gives the request one more attempt at once instead
    /// of waiting out a backoff that can be longer than `runtime.shutdown_timeout`.
    async fn back_off(&self, delay: Duration) {
        let until = tokio::time::Instant::now() + delay;
        // A wake between the check and the wait leaves a permit: `wait` returns at once.
        while !self.closing.load(Ordering::Relaxed) {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return,
                () = self.queue.wait() => {}
            }
        }
    }
}

/// The exporter's own metrics.
struct Counters {
    component: String,
    queue_requests: Gauge,
    queue_bytes: Gauge,
}

impl Counters {
    fn new(component: &str) -> Self {
        Self {
            component: component.to_string(),
            queue_requests: metrics::gauge!(names::OTLP_QUEUE_REQUESTS, names::COMPONENT_ID => component.to_string()),
            queue_bytes: metrics::gauge!(names::OTLP_QUEUE_BYTES, names::COMPONENT_ID => component.to_string()),
        }
    }

    fn counter(&self, name: &'static str, signal: &'static str) -> Counter {
        metrics::counter!(name, names::COMPONENT_ID => self.component.clone(), "signal" => signal)
    }

    fn sent(&self, signal: &'static str, items: u64, bytes: usize) {
        self.counter(names::OTLP_SENT, signal).increment(items);
        self.counter(names::OTLP_SENT_BYTES, signal)
            .increment(bytes as u64);
    }

    fn dropped(&self, signal: &'static str, reason: &'static str, items: u64) {
        metrics::counter!(names::OTLP_DROPPED, names::COMPONENT_ID => self.component.clone(), "signal" => signal, names::REASON => reason)
            .increment(items);
    }

    fn retried(&self, signal: &'static str) {
        self.counter(names::OTLP_RETRIES, signal).increment(1);
    }

    fn duration(&self, signal: &'static str, took: Duration) {
        self.counter(names::OTLP_SEND_DURATION_US, signal)
            .increment(took.as_micros() as u64);
    }

    fn depth(&self, queue: &Queue) {
        let (requests, bytes) = queue.depth();
        self.queue_requests.set(requests as f64);
        self.queue_bytes.set(bytes as f64);
    }
}

impl Kind for OtlpExporterConfig {
    const KIND: &'static str = "otlp";
}

impl Declared for OtlpExporterConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Metrics, Signal::Logs, Signal::Traces]
    }
    fn validate(&self) -> Vec<ConfigError> {
        OtlpExporterConfig::validate(self)
    }
}

impl ExporterType for OtlpExporterConfig {
    fn build(&self, id: &ComponentId, _shared: &Shared) -> Box<dyn Exporter> {
        Box::new(OtlpExporter::new(&id.to_string(), self))
    }
}

#[cfg(test)]
mod tests;
