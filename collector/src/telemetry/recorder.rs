//! A `metrics` recorder backed by an atomic registry, and snapshots of it.

use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};

use crate::event::{TelemetryPoint, TelemetrySnapshot};

struct KotelRecorder {
    registry: Registry<Key, AtomicStorage>,
    /// When it was installed: the start of every counter.
    started_unix_nano: u64,
}

impl Recorder for KotelRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.registry
            .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.registry
            .get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
    }

    fn register_histogram(&self, _key: &Key, _: &Metadata<'_>) -> Histogram {
        // The agent records no self-telemetry histograms yet.
        Histogram::noop()
    }
}

static RECORDER: OnceLock<&'static KotelRecorder> = OnceLock::new();

/// Installs the process-wide recorder. Idempotent: later calls (tests) reuse the first.
pub fn install() {
    RECORDER.get_or_init(|| {
        let recorder: &'static KotelRecorder = Box::leak(Box::new(KotelRecorder {
            registry: Registry::atomic(),
            started_unix_nano: crate::event::unix_now(),
        }));
        // Fails only if another recorder was installed first; ours then stays unused.
        let _ = metrics::set_global_recorder(recorder);
        recorder
    });
}

/// Reads every counter and gauge recorded so far. Empty if [`install`] was never called.
pub fn snapshot() -> TelemetrySnapshot {
    let time_unix_nano = crate::event::unix_now();
    let Some(recorder) = RECORDER.get() else {
        return TelemetrySnapshot {
            time_unix_nano,
            ..Default::default()
        };
    };
    let mut counters = Vec::new();
    recorder.registry.visit_counters(|key, value| {
        counters.push(point(key, value.load(Ordering::Relaxed) as f64));
    });
    let mut gauges = Vec::new();
    recorder.registry.visit_gauges(|key, value| {
        gauges.push(point(key, f64::from_bits(value.load(Ordering::Relaxed))));
    });
    counters.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    gauges.sort_by(|a, b| (&a.name, &a.labels).cmp(&(&b.name, &b.labels)));
    TelemetrySnapshot {
        start_time_unix_nano: recorder.started_unix_nano,
        time_unix_nano,
        counters,
        gauges,
    }
}

fn point(key: &Key, value: f64) -> TelemetryPoint {
    let mut labels: Vec<(String, String)> = key
        .labels()
        .map(|l| (l.key().to_string(), l.value().to_string()))
        .collect();
    labels.sort();
    TelemetryPoint {
        name: key.name().to_string(),
        labels,
        value,
    }
}

impl TelemetrySnapshot {
    /// Sum of every counter named `name` whose labels include all of `labels`.
    pub fn counter_sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.counters
            .iter()
            .filter(|p| p.name == name)
            .filter(|p| {
                labels
                    .iter()
                    .all(|(k, v)| p.labels.iter().any(|(pk, pv)| pk == k && pv == v))
            })
            .map(|p| p.value)
            .sum()
    }
}
