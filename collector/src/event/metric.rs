//! Aggregated metrics, in a model that maps one-to-one onto OTLP metrics: a batch of
//! metrics, each with a name, unit and one kind of data (sum, gauge, explicit-bucket or
//! exponential histogram) made of points with attributes and a time window.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::trace_ids::{SpanId, TraceId};

/// Attribute pairs of a point, sorted by key; shared between collections of the series.
pub type Attributes = Arc<[(String, String)]>;

/// One collection of an `aggregate` processor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricBatch {
    /// Wall-clock time of the collection, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// The metrics, each once, in a stable order.
    pub metrics: Vec<Metric>,
}

/// One metric (OTLP `Metric`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// OpenTelemetry name, dotted (`tcp.connection.duration`).
    pub name: String,
    /// What it measures.
    pub description: String,
    /// UCUM unit (`s`, `By`, `{connection}`).
    pub unit: String,
    /// The points.
    pub data: MetricData,
}

/// How points of a sum or histogram relate over time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Temporality {
    /// Each point covers the series' whole life from its start time.
    #[default]
    Cumulative,
    /// Each point covers only the time since the previous collection.
    Delta,
}

/// The data of a metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricData {
    /// A counter (`monotonic`) or up-down counter.
    Sum {
        /// True for counters that only grow.
        monotonic: bool,
        /// Cumulative or delta.
        temporality: Temporality,
        /// One point per attribute set.
        points: Vec<NumberPoint>,
    },
    /// Explicit-bucket histograms.
    Histogram {
        /// Cumulative or delta.
        temporality: Temporality,
        /// One point per attribute set.
        points: Vec<HistogramPoint>,
    },
    /// Base-2 exponential histograms.
    ExponentialHistogram {
        /// Cumulative or delta.
        temporality: Temporality,
        /// One point per attribute set.
        points: Vec<ExponentialPoint>,
    },
}

impl MetricData {
    /// Number of points.
    pub fn len(&self) -> usize {
        match self {
            MetricData::Sum { points, .. } => points.len(),
            MetricData::Histogram { points, .. } => points.len(),
            MetricData::ExponentialHistogram { points, .. } => points.len(),
        }
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The time window and attributes every point has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointHeader {
    /// The point's attributes.
    pub attributes: Attributes,
    /// Start of the window, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// End of the window (the collection), nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
}

/// A sum's point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumberPoint {
    /// Attributes and window.
    #[serde(flatten)]
    pub header: PointHeader,
    /// The value.
    pub value: i64,
}

/// An explicit-bucket histogram's point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramPoint {
    /// Attributes and window.
    #[serde(flatten)]
    pub header: PointHeader,
    /// Number of values.
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
    /// Upper bounds of the buckets but the last (which is unbounded), ascending.
    pub bounds: Arc<[f64]>,
    /// Counts per bucket: `bounds.len() + 1` of them.
    pub bucket_counts: Vec<u64>,
    /// At most one per bucket, in bucket order: the last value of the window that came
    /// with a span, so a backend can link the bucket to a trace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exemplars: Vec<Exemplar>,
}

/// A measurement kept with a histogram point (OTLP `Exemplar`): its value, when it was
/// made, and the span of the request it measured.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exemplar {
    /// The value recorded, in the metric's unit.
    pub value: f64,
    /// When, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// The trace of the span it measured.
    pub trace_id: TraceId,
    /// That span.
    pub span_id: SpanId,
}

/// An exponential histogram's point (positive values only, as kernel durations are).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExponentialPoint {
    /// Attributes and window.
    #[serde(flatten)]
    pub header: PointHeader,
    /// Number of values.
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
    /// Base 2^(2^-scale).
    pub scale: i32,
    /// Values that were zero.
    pub zero_count: u64,
    /// Index of the first positive bucket.
    pub offset: i32,
    /// Counts of the positive buckets from `offset` upward.
    pub bucket_counts: Vec<u64>,
}
