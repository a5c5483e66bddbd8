//! What a scrape shows: the latest value of every series the exporter was given.
//! Cumulative points replace what was there (a family is replaced as a whole, so series
//! the aggregator forgot disappear); delta points are added up, since Prometheus wants
//! cumulative values. Series not updated for [`STALE_AFTER`] are dropped.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use crate::event::{
    Attributes, ExponentialPoint, HistogramPoint, MetricBatch, MetricData, Temporality,
};

/// A series not updated for this long is dropped from scrapes.
pub const STALE_AFTER: Duration = Duration::from_secs(600);

/// What kind of Prometheus family a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyKind {
    /// A monotonic sum.
    Counter,
    /// An up-down sum.
    Gauge,
    /// A histogram (exponential ones are shown with their buckets as `le` bounds).
    Histogram,
}

/// One series' value.
#[derive(Clone, Debug, PartialEq)]
pub enum SeriesValue {
    /// A counter or gauge.
    Number(i64),
    /// Explicit buckets: `(upper bound, count)` per bucket, the last bound +Inf.
    Buckets {
        /// Per bucket (not cumulative), ascending bounds.
        buckets: Vec<(f64, u64)>,
        /// Number of values.
        count: u64,
        /// Their sum.
        sum: f64,
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
                .or_insert_with(|| Family {
                    unit: metric.unit.clone(),
                    description: metric.description.clone(),
                    kind,
                    series: BTreeMap::new(),
                });
            if temporality == Temporality::Cumulative {
                family.series.clear();
            }
            for (attributes, value) in points {
                match (temporality, family.series.get_mut(&attributes)) {
                    (Temporality::Delta, Some((current, at))) => {
                        add(current, &value);
                        *at = now;
                    }
                    _ => {
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
                .map(|p| (p.header.attributes.clone(), exponential(p)))
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
    }
}

/// An exponential histogram as explicit buckets at its own bucket edges (no loss of
/// resolution): zeros in a bucket bounded by 0, each positive bucket by its upper edge.
fn exponential(p: &ExponentialPoint) -> SeriesValue {
    let base = 2f64.powf(2f64.powi(-p.scale));
    let mut buckets = vec![(0.0, p.zero_count)];
    for (i, n) in p.bucket_counts.iter().enumerate() {
        buckets.push((base.powi(p.offset + i as i32 + 1), *n));
    }
    buckets.push((f64::INFINITY, 0));
    SeriesValue::Buckets {
        buckets,
        count: p.count,
        sum: p.sum,
    }
}

/// Adds a delta to a series (buckets are matched by bound; new bounds are inserted).
fn add(current: &mut SeriesValue, delta: &SeriesValue) {
    match (current, delta) {
        (SeriesValue::Number(a), SeriesValue::Number(b)) => *a = a.saturating_add(*b),
        (
            SeriesValue::Buckets {
                buckets,
                count,
                sum,
            },
            SeriesValue::Buckets {
                buckets: more,
                count: c,
                sum: s,
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
        }
        (current, delta) => *current = delta.clone(),
    }
}
