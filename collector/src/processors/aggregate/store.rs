//! The series of every instrument, bounded per instrument: a series per attribute set up
//! to the cardinality limit, then one overflow series (`otel.metric.overflow=true`).
//! Collecting turns them into a [`MetricBatch`] with the configured temporality.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::Counter;

use crate::event::{
    Attributes, ExponentialPoint, HistogramPoint, Metric, MetricBatch, MetricData, NumberPoint,
    PointHeader, Temporality,
};
use crate::processors::aggregate::instruments::{Instrument, Kind};
use crate::processors::aggregate::series_key::{BuildPrehashed, SeriesKey};
use crate::processors::aggregate::values::{Explicit, Exponential, Value};
use crate::telemetry::names;

/// The attribute set overflowing data goes to.
pub const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// One series.
#[derive(Debug)]
struct Series {
    start_time_unix_nano: u64,
    last_update: Instant,
    /// Updated since the last collection.
    fresh: bool,
    value: Value,
}

/// Every instrument's series.
pub struct Store {
    series: BTreeMap<Instrument, HashMap<SeriesKey, Series, BuildPrehashed>>,
    limit: usize,
    ttl: Duration,
    temporality: Temporality,
    overflow: SeriesKey,
    overflowed: HashMap<Instrument, Counter>,
    /// End of the previous collection (start of delta windows), ns since the epoch.
    last_collection_unix_nano: u64,
}

impl Store {
    /// An empty store; `started_unix_nano` starts the first delta window.
    pub fn new(
        component: &str,
        limit: usize,
        ttl: Duration,
        temporality: Temporality,
        started_unix_nano: u64,
    ) -> Self {
        let overflowed = Instrument::ALL
            .into_iter()
            .map(|i| {
                let counter = metrics::counter!(names::AGGREGATE_OVERFLOW, names::COMPONENT_ID => component.to_string(), "metric" => i.name());
                (i, counter)
            })
            .collect();
        Self {
            series: BTreeMap::new(),
            limit: limit.max(2),
            ttl,
            temporality,
            overflow: SeriesKey::new(Arc::from([(OVERFLOW_KEY.to_string(), "true".to_string())])),
            overflowed,
            last_collection_unix_nano: started_unix_nano,
        }
    }

    /// Applies `update` to the series of `instrument` with `attributes` (made with
    /// `empty` if new, or the overflow series if the limit is reached). An existing
    /// series is found with one lookup and nothing allocated.
    pub fn update(
        &mut self,
        instrument: Instrument,
        attributes: &SeriesKey,
        now: (Instant, u64),
        empty: impl FnOnce() -> Value,
        update: impl FnOnce(&mut Value),
    ) {
        let map = self.series.entry(instrument).or_default();
        if let Some(series) = map.get_mut(attributes) {
            series.last_update = now.0;
            series.fresh = true;
            update(&mut series.value);
            return;
        }
        let start = match (self.temporality, instrument.spec().2) {
            (Temporality::Delta, Kind::Counter | Kind::Histogram | Kind::KernelHistogram) => {
                self.last_collection_unix_nano
            }
            _ => now.1,
        };
        let key = if map.len() + 1 < self.limit {
            attributes.clone()
        } else {
            if let Some(counter) = self.overflowed.get(&instrument) {
                counter.increment(1);
            }
            self.overflow.clone()
        };
        let series = map.entry(key).or_insert_with(|| Series {
            start_time_unix_nano: start,
            last_update: now.0,
            fresh: false,
            value: empty(),
        });
        series.last_update = now.0;
        series.fresh = true;
        update(&mut series.value);
    }

    /// Number of series of `instrument`.
    pub fn series_count(&self, instrument: Instrument) -> usize {
        self.series.get(&instrument).map_or(0, HashMap::len)
    }

    /// Collects every series into a batch at `now`; forgets series idle for the TTL and,
    /// with delta temporality, starts new windows.
    pub fn collect(&mut self, now: (Instant, u64)) -> MetricBatch {
        let (instant, time) = now;
        let ttl = self.ttl;
        let delta = self.temporality == Temporality::Delta;
        let mut metrics = Vec::new();
        for (instrument, map) in &mut self.series {
            map.retain(|_, s| instant.duration_since(s.last_update) < ttl);
            let kind = instrument.spec().2;
            let is_delta = delta && kind != Kind::UpDownCounter;
            let mut entries: Vec<(&Attributes, &mut Series)> = map
                .iter_mut()
                .filter(|(_, s)| !is_delta || s.fresh)
                .map(|(key, series)| (key.attributes(), series))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let temporality = if is_delta {
                Temporality::Delta
            } else {
                Temporality::Cumulative
            };
            let data = points(kind, temporality, &mut entries, time);
            for (_, series) in entries {
                series.fresh = false;
                if is_delta {
                    series.value = series.value.emptied();
                    series.start_time_unix_nano = time;
                }
            }
            if !data.is_empty() {
                let (name, unit, _, description) = instrument.spec();
                metrics.push(Metric {
                    name: name.into(),
                    description: description.into(),
                    unit: unit.into(),
                    data,
                });
            }
        }
        self.last_collection_unix_nano = time;
        MetricBatch {
            time_unix_nano: time,
            metrics,
        }
    }
}

/// The points of one instrument's series.
fn points(
    kind: Kind,
    temporality: Temporality,
    entries: &mut [(&Attributes, &mut Series)],
    time: u64,
) -> MetricData {
    let header = |attributes: &Attributes, series: &Series| PointHeader {
        attributes: attributes.clone(),
        start_time_unix_nano: series.start_time_unix_nano,
        time_unix_nano: time,
    };
    let mut sums = Vec::new();
    let mut explicit = Vec::new();
    let mut exponential = Vec::new();
    for (attributes, series) in entries.iter_mut() {
        let header = header(attributes, series);
        match &mut series.value {
            Value::Sum(v) => sums.push(NumberPoint { header, value: *v }),
            Value::Explicit(h) => explicit.push(explicit_point(header, h)),
            Value::Exponential(h) => exponential.push(exponential_point(header, h)),
        }
    }
    match kind {
        Kind::Counter | Kind::UpDownCounter => MetricData::Sum {
            monotonic: kind == Kind::Counter,
            temporality,
            points: sums,
        },
        _ if !explicit.is_empty() => MetricData::Histogram {
            temporality,
            points: explicit,
        },
        Kind::Histogram => MetricData::Histogram {
            temporality,
            points: explicit,
        },
        Kind::KernelHistogram => MetricData::ExponentialHistogram {
            temporality,
            points: exponential,
        },
    }
}

/// The point of an explicit series; its exemplars go with it (the next point carries
/// only newer ones).
fn explicit_point(header: PointHeader, h: &mut Explicit) -> HistogramPoint {
    HistogramPoint {
        header,
        count: h.count,
        sum: h.sum,
        bounds: h.bounds.clone(),
        bucket_counts: h.counts.clone(),
        exemplars: h.take_exemplars(),
    }
}

fn exponential_point(header: PointHeader, h: &Exponential) -> ExponentialPoint {
    ExponentialPoint {
        header,
        count: h.count,
        sum: h.sum,
        scale: h.scale,
        zero_count: h.zero_count,
        offset: h.offset,
        bucket_counts: h.counts.clone(),
    }
}
