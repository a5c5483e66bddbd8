//! The `aggregate` processor: turns TCP events, per-cgroup counters and the kernel's
//! histograms into metrics per attribute set (which event feeds which instrument is the
//! data of [`measures`]; the metrics themselves are [`instruments`]), and hands a
//! [`MetricBatch`](crate::event::MetricBatch) on every `interval`. Events it aggregates
//! leave the pipeline (counted as `reason="aggregated"`); every other event passes.

pub mod attribute_sets;
pub mod config;
pub mod http_sets;
pub mod instruments;
pub mod measures;
pub mod series_key;
pub mod store;
pub mod values;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::component::kind::{Declared, Kind, ProcessorType, Shared};
use crate::component::{Processor, Release};
use crate::event::{
    unix_now, Batch, CgroupHistogram, Event, Exemplar, HttpEvent, HttpSide, Workload,
};
use crate::settings::{ComponentId, ConfigError, Signal};
use crate::telemetry::names;

use attribute_sets::{AttributeSets, Extra, PeerKey};
pub use config::{AggregateConfig, Peer};
use config::{DEFAULT_SECONDS_BUCKETS, HTTP_SECONDS_BUCKETS};
use instruments::Instrument;
use measures::{Measure, Sample};
use series_key::SeriesKey;
use store::Store;
use values::{Explicit, Exponential, Refusal, Value};

/// One pipeline's aggregate processor.
pub struct AggregateProcessor {
    config: AggregateConfig,
    store: Store,
    /// The attribute sets of the series, per workload.
    sets: AttributeSets,
    next_collection: Instant,
    /// Explicit bounds per histogram instrument that has them.
    bounds: HashMap<Instrument, Arc<[f64]>>,
    /// Its id, for the refusal counter.
    component: String,
    /// Refusal reasons already logged.
    logged_refusals: HashSet<Refusal>,
}

impl AggregateProcessor {
    /// A processor for `config` whose first collection is one interval from now.
    pub fn new(component: &str, config: &AggregateConfig) -> Self {
        let mut bounds: HashMap<Instrument, Arc<[f64]>> = config
            .histograms
            .iter()
            .filter_map(|(name, h)| {
                Instrument::by_name(name).map(|i| (i, Arc::from(h.buckets.as_slice())))
            })
            .collect();
        bounds
            .entry(Instrument::Duration)
            .or_insert_with(|| Arc::from(DEFAULT_SECONDS_BUCKETS));
        Self {
            store: Store::new(
                component,
                config.cardinality_limit,
                config.series_ttl,
                config.temporality,
                unix_now(),
            ),
            sets: AttributeSets::new(config.attributes.clone()),
            next_collection: Instant::now() + config.interval,
            config: config.clone(),
            bounds,
            component: component.to_string(),
            logged_refusals: HashSet::new(),
        }
    }

    /// Folds `event` into the metrics; false when it is not an event this processor
    /// aggregates (it then passes on).
    fn absorb(&mut self, event: &Event, now: (Instant, u64)) -> bool {
        match event {
            Event::Tcp(e) => {
                let peer = (self.config.peer == Peer::Address)
                    .then(|| (e.remote_addr, measures::server_port(e)));
                self.measure(measures::CONNECTION, e, e.workload.as_ref(), peer, now);
            }
            Event::TcpCounters(c) => {
                self.measure(measures::COUNTERS, c, c.workload.as_ref(), None, now)
            }
            Event::Histogram(h) => self.histogram(h, now),
            Event::Http(e) => self.http(e, now),
            _ => return false,
        }
        true
    }

    /// Applies every row of `table` to `event`, on the series of `workload` and `peer`.
    fn measure<E>(
        &mut self,
        table: &[Measure<E>],
        event: &E,
        workload: Option<&Arc<Workload>>,
        peer: Option<PeerKey>,
        now: (Instant, u64),
    ) {
        let sets = self.sets.entry(workload, peer);
        for row in table {
            let Some(sample) = (row.value)(event) else {
                continue;
            };
            let key = sets.key((row.attributes)(event));
            match sample {
                Sample::Add(n) => add(&mut self.store, row.instrument, key, now, n),
                Sample::Observe(x) => {
                    let bounds = self
                        .bounds
                        .get(&row.instrument)
                        .cloned()
                        .unwrap_or_else(|| Arc::from(DEFAULT_SECONDS_BUCKETS));
                    explicit(&mut self.store, row.instrument, key, now, bounds, |e| {
                        e.record(x, 1);
                    });
                }
            }
        }
    }

    /// One HTTP exchange into its side's request-duration histogram.
    fn http(&mut self, e: &HttpEvent, now: (Instant, u64)) {
        let instrument = match e.side {
            HttpSide::Server => Instrument::HttpServerDuration,
            HttpSide::Client => Instrument::HttpClientDuration,
        };
        let bounds = self
            .bounds
            .get(&instrument)
            .cloned()
            .unwrap_or_else(|| Arc::from(HTTP_SECONDS_BUCKETS));
        let key = self.sets.entry(e.workload.as_ref(), None).http_key(e);
        let seconds = e.duration_seconds();
        let exemplar = self.config.exemplars.then_some(Exemplar {
            value: seconds,
            time_unix_nano: e.end_time_unix_nano,
            trace_id: e.trace_id,
            span_id: e.span_id,
        });
        explicit(&mut self.store, instrument, key, now, bounds, |h| {
            match exemplar {
                Some(exemplar) => h.record_exemplar(exemplar),
                None => {
                    h.record(seconds, 1);
                }
            };
        });
    }

    fn histogram(&mut self, h: &CgroupHistogram, now: (Instant, u64)) {
        let Some(instrument) = measures::kernel_histogram(h.metric) else {
            return;
        };
        if let Err(refusal) = values::kernel_shape(h) {
            self.refused(instrument, refusal, h);
            return;
        }
        let attributes = self.sets.entry(h.workload.as_ref(), None).set(Extra::Plain);
        match self.bounds.get(&instrument).cloned() {
            Some(bounds) => explicit(&mut self.store, instrument, &attributes, now, bounds, |e| {
                e.record_exponential(h)
            }),
            None => self.store.update(
                instrument,
                &attributes,
                now,
                || Value::Exponential(Exponential::default()),
                |v| {
                    if let Value::Exponential(e) = v {
                        if !e.merge(h) {
                            tracing::warn!(
                                scale = h.scale,
                                "kernel histogram at an unexpected scale; not merged"
                            );
                        }
                    }
                },
            ),
        }
    }

    /// Counts a refused histogram; logs the first of each reason.
    fn refused(&mut self, instrument: Instrument, refusal: Refusal, h: &CgroupHistogram) {
        metrics::counter!(names::AGGREGATE_REFUSED, names::COMPONENT_ID => self.component.clone(), "metric" => instrument.name(), names::REASON => refusal.reason())
            .increment(1);
        if self.logged_refusals.insert(refusal) {
            tracing::warn!(component = %self.component, metric = instrument.name(), reason = refusal.reason(), scale = h.scale, offset = h.offset, buckets = h.bucket_counts.len(), "histogram refused: no kernel program makes this shape (further ones are only counted)");
        }
    }

    fn collect(&mut self) -> Batch {
        let batch = self.store.collect((Instant::now(), unix_now()));
        self.sets.sweep();
        vec![Event::Metrics(batch)]
    }
}

/// Adds `n` to the sum series of `instrument` with `attributes`.
fn add(
    store: &mut Store,
    instrument: Instrument,
    attributes: &SeriesKey,
    now: (Instant, u64),
    n: i64,
) {
    store.update(
        instrument,
        attributes,
        now,
        || Value::Sum(0),
        |v| {
            if let Value::Sum(sum) = v {
                *sum = sum.saturating_add(n);
            }
        },
    );
}

/// Applies `record` to the explicit-bucket series (made with `bounds` if new).
fn explicit(
    store: &mut Store,
    instrument: Instrument,
    attributes: &SeriesKey,
    now: (Instant, u64),
    bounds: Arc<[f64]>,
    record: impl FnOnce(&mut Explicit),
) {
    store.update(
        instrument,
        attributes,
        now,
        || Value::Explicit(Explicit::new(bounds)),
        |v| {
            if let Value::Explicit(e) = v {
                record(e);
            }
        },
    );
}

impl Processor for AggregateProcessor {
    fn process(&mut self, mut batch: Batch) -> Batch {
        let now = (Instant::now(), unix_now());
        batch.retain(|event| !self.absorb(event, now));
        batch
    }

    fn next_release(&self) -> Option<Instant> {
        Some(self.next_collection)
    }

    fn release(&mut self, which: Release) -> Batch {
        match which {
            Release::Due(now) if now < self.next_collection => Vec::new(),
            Release::Due(now) => {
                // Skip whole intervals missed (a stalled runtime), keeping the phase.
                while self.next_collection <= now {
                    self.next_collection += self.config.interval.max(Duration::from_millis(1));
                }
                self.collect()
            }
            Release::All => self.collect(),
        }
    }

    fn drop_reason(&self) -> &'static str {
        "aggregated"
    }
}

impl Kind for AggregateConfig {
    const KIND: &'static str = "aggregate";
}

impl Declared for AggregateConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Metrics]
    }
    fn validate(&self) -> Vec<ConfigError> {
        AggregateConfig::validate(self)
    }
}

impl ProcessorType for AggregateConfig {
    fn build(&self, id: &ComponentId, _shared: &Shared) -> Box<dyn Processor> {
        Box::new(AggregateProcessor::new(&id.to_string(), self))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "exemplar_tests.rs"]
mod exemplar_tests;
