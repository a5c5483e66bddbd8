//! What a scrape shows: the latest value of every series the exporter was given.
//! Cumulative points replace what was there (a family is replaced as a whole, so series
//! the aggregator forgot disappear); delta points are added up, since Prometheus wants
//! cumulative values. Series not updated for [`STALE_AFTER`] are dropped.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use crate::event::exponential::Exponential;
use crate::event::{Attributes, Exemplar, HistogramPoint, MetricBatch, MetricData, Temporality};
use crate::exporters::prometheus::edges::EdgeSet;

/// A series not updated for this long is dropped from scrapes.
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// What kind of Prometheus family a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyKind {
    /// A monotonic sum.
    Counter,
    /// An up-down sum.
    Gauge,
    /// A histogram, explicit or exponential.
    Histogram,
}

/// One series' value.
#[derive(Clone, Debug, PartialEq)]
pub enum SeriesValue {
    /// A counter or gauge.
    Number(i64),
    /// An exponential histogram, kept as such: a native histogram for scrapes that take
    /// them, `le` buckets at its family's [`EdgeSet`] for the others.
    Exponential(Exponential),
    /// Explicit buckets: `(upper bound, count)` per bucket, the last bound +Inf.
    Buckets {
        /// Per bucket (not cumulative), ascending bounds.
        buckets: Vec<(f64, u64)>,
        /// Number of values.
        count: u64,
        /// Their sum.
        sum: f64,
        /// The latest exemplar of each bucket that has one (kept across collections
        /// until a newer one of the same bucket comes).
        exemplars: Vec<Exemplar>,
    },
}

/// One metric family.
#[derive(Clone, Debug)]
pub struct Family {
    /// OTel unit.
    pub unit: String,
    /// Help text.
    pub description: String,
    /// Kind.
    pub kind: FamilyKind,
    /// Series by attributes, with when they were last updated.
    pub series: BTreeMap<Attributes, (SeriesValue, Instant)>,
}

impl Family {
    /// An empty family.
    pub fn new(unit: &str, description: &str, kind: FamilyKind) -> Self {
        Self {
            unit: unit.to_string(),
            description: description.to_string(),
            kind,
            series: BTreeMap::new(),
        }
    }

    /// The classic edges of its exponential series, `None` when it has none.
    pub fn edges(&self) -> Option<EdgeSet> {
        self.series
            .values()
            .filter_map(|(value, _)| match value {
                SeriesValue::Exponential(h) => Some(h.scale),
                _ => None,
            })
            .min()
            .map(EdgeSet::for_scale)
    }
}

/// Every family by OTel metric name.
#[derive(Debug, Default)]
pub struct ScrapeState {
    /// The families.
    pub families: BTreeMap<String, Family>,
}

impl ScrapeState {
    /// Folds `batch` in.
    pub fn merge(&mut self, batch: &MetricBatch, now: Instant) {
        for metric in &batch.metrics {
            let (kind, temporality, points) = series_of(&metric.data);
            let family = self
                .families
                .entry(metric.name.clone())
                .or_insert_with(|| Family::new(&metric.unit, &metric.description, kind));
            let replaced = match temporality {
                Temporality::Cumulative => std::mem::take(&mut family.series),
                Temporality::Delta => BTreeMap::new(),
            };
            for (attributes, mut value) in points {
                match (temporality, family.series.get_mut(&attributes)) {
                    (Temporality::Delta, Some((current, at))) => {
                        add(current, &value);
                        *at = now;
                    }
                    _ => {
                        if let Some((older, _)) = replaced.get(&attributes) {
                            carry_exemplars(older, &mut value);
                        }
                        family.series.insert(attributes, (value, now));
                    }
                }
            }
        }
        for family in self.families.values_mut() {
            family
                .series
                .retain(|_, (_, at)| now.duration_since(*at) < STALE_AFTER);
        }
    }
}

fn series_of(data: &MetricData) -> (FamilyKind, Temporality, Vec<(Attributes, SeriesValue)>) {
    match data {
        MetricData::Sum {
            monotonic,
            temporality,
            points,
        } => (
            if *monotonic {
                FamilyKind::Counter
            } else {
                FamilyKind::Gauge
            },
            *temporality,
            points
                .iter()
                .map(|p| (p.header.attributes.clone(), SeriesValue::Number(p.value)))
                .collect(),
        ),
        MetricData::Histogram {
            temporality,
            points,
        } => (
            FamilyKind::Histogram,
            *temporality,
            points
                .iter()
                .map(|p| (p.header.attributes.clone(), explicit(p)))
                .collect(),
        ),
        MetricData::ExponentialHistogram {
            temporality,
            points,
        } => (
            FamilyKind::Histogram,
            *temporality,
            points
                .iter()
                .map(|p| {
                    let value = SeriesValue::Exponential(Exponential::from_point(p));
                    (p.header.attributes.clone(), value)
                })
                .collect(),
        ),
    }
}

fn explicit(p: &HistogramPoint) -> SeriesValue {
    let bounds = p
        .bounds
        .iter()
        .copied()
        .chain(std::iter::once(f64::INFINITY));
    SeriesValue::Buckets {
        buckets: bounds.zip(p.bucket_counts.iter().copied()).collect(),
        count: p.count,
        sum: p.sum,
        exemplars: p.exemplars.clone(),
    }
}

/// Gives a series replaced by `value` the exemplars `older` had for the buckets `value`
/// has none of.
fn carry_exemplars(older: &SeriesValue, value: &mut SeriesValue) {
    if let (
        SeriesValue::Buckets {
            exemplars: older, ..
        },
        SeriesValue::Buckets {
            buckets, exemplars, ..
        },
    ) = (older, value)
    {
        keep_exemplars(older, buckets, exemplars);
    }
}

/// Adds to `exemplars` those of `older` whose bucket (of `buckets`) it has none of.
fn keep_exemplars(older: &[Exemplar], buckets: &[(f64, u64)], exemplars: &mut Vec<Exemplar>) {
    let bucket = |e: &Exemplar| buckets.iter().position(|(bound, _)| e.value <= *bound);
    for old in older {
        if !exemplars.iter().any(|e| bucket(e) == bucket(old)) {
            exemplars.push(*old);
        }
    }
}

/// Adds a delta to a series (buckets are matched by bound; new bounds are inserted).
fn add(current: &mut SeriesValue, delta: &SeriesValue) {
    match (current, delta) {
        (SeriesValue::Number(a), SeriesValue::Number(b)) => *a = a.saturating_add(*b),
        (SeriesValue::Exponential(a), SeriesValue::Exponential(b)) => a.add(b),
        (
            SeriesValue::Buckets {
                buckets,
                count,
                sum,
                exemplars,
            },
            SeriesValue::Buckets {
                buckets: more,
                count: c,
                sum: s,
                exemplars: newer,
            },
        ) => {
            for (bound, n) in more {
                match buckets.iter_mut().find(|(b, _)| b == bound) {
                    Some((_, total)) => *total += n,
                    None => buckets.push((*bound, *n)),
                }
            }
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            *count += c;
            *sum += s;
            let older = std::mem::replace(exemplars, newer.clone());
            keep_exemplars(&older, buckets, exemplars);
        }
        (current, delta) => *current = delta.clone(),
    }
}
