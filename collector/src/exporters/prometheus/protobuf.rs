//! The Prometheus protobuf exposition format: length-delimited `io.prometheus.client`
//! `MetricFamily` messages, which Prometheus asks for when native histograms are on
//! (`--enable-feature=native-histograms`).
//!
//! Contract: the same families, names and labels as the text format. Exponential series
//! are native histograms (schema = their scale, lowered to 8 when above; Prometheus's
//! bucket `i` is OTLP's `i - 1`) and carry the classic `le` buckets of their family too;
//! an exponential histogram whose scale is below -4 (no native schema) and every explicit
//! histogram are classic only. The zero bucket has a threshold of 2^-128 (no duration kotel
//! measures is that small), which also tells every Prometheus version that a histogram
//! without observations yet is native.

use std::collections::BTreeMap;

use prost::Message;

use crate::event::exponential::Exponential;
use crate::event::{Attributes, Exemplar, TelemetryPoint, TelemetrySnapshot};
use crate::exporters::prometheus::classic::{self, Classic};
use crate::exporters::prometheus::edges::NATIVE_SCALES;
use crate::exporters::prometheus::state::{FamilyKind, ScrapeState, SeriesValue};
use crate::exporters::prometheus::text::{metric_name, sanitize};

/// The `Content-Type` of a protobuf scrape (and what Prometheus's `Accept` names).
pub const CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// The zero bucket's upper bound for native histograms.
pub const ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39; // 2^-128

/// The whole scrape.
pub fn render(
    state: &ScrapeState,
    telemetry: &TelemetrySnapshot,
    resource: &[(String, String)],
) -> Vec<u8> {
    let mut families = Vec::new();
    for (name, family) in &state.families {
        let base = metric_name(name, &family.unit, family.kind);
        let (name, kind) = match family.kind {
            FamilyKind::Counter => (format!("{base}_total"), MetricType::Counter),
            FamilyKind::Gauge => (base, MetricType::Gauge),
            FamilyKind::Histogram => (base, MetricType::Histogram),
        };
        let mut metrics: Vec<Metric> = family
            .series
            .iter()
            .filter_map(|(attributes, (value, _))| match value {
                SeriesValue::Number(v) => {
                    Some(number(attribute_labels(attributes), family.kind, *v as f64))
                }
                _ => None,
            })
            .collect();
        let classics: BTreeMap<&Attributes, Classic> =
            classic::histograms(family).into_iter().collect();
        for (attributes, (value, _)) in &family.series {
            if let Some(classic) = classics.get(attributes) {
                let native = match value {
                    SeriesValue::Exponential(h) => Some(h),
                    _ => None,
                };
                metrics.push(histogram(attributes, classic, native));
            }
        }
        families.push(MetricFamily {
            name: Some(name),
            help: Some(family.description.clone()),
            r#type: Some(kind as i32),
            metric: metrics,
        });
    }
    families.extend(telemetry_families(telemetry));
    families.push(MetricFamily {
        name: Some("target_info".into()),
        help: Some("Target metadata".into()),
        r#type: Some(MetricType::Gauge as i32),
        metric: vec![Metric {
            label: labels(resource.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            gauge: Some(Value { value: Some(1.0) }),
            ..Metric::default()
        }],
    });
    let mut out = Vec::new();
    for family in families {
        // Writing to a Vec cannot run out of room.
        let _ = family.encode_length_delimited(&mut out);
    }
    out
}

fn labels<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<LabelPair> {
    pairs
        .map(|(k, v)| LabelPair {
            name: Some(sanitize(k)),
            value: Some(v.to_string()),
        })
        .collect()
}

fn attribute_labels(attributes: &Attributes) -> Vec<LabelPair> {
    labels(attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// A counter's or gauge's series.
fn number(label: Vec<LabelPair>, kind: FamilyKind, value: f64) -> Metric {
    let value = Some(Value { value: Some(value) });
    match kind {
        FamilyKind::Counter => Metric {
            label,
            counter: value,
            ..Metric::default()
        },
        _ => Metric {
            label,
            gauge: value,
            ..Metric::default()
        },
    }
}

fn histogram(attributes: &Attributes, classic: &Classic, native: Option<&Exponential>) -> Metric {
    let mut h = Histogram {
        sample_count: Some(classic.count),
        sample_sum: Some(classic.sum),
        bucket: classic
            .buckets
            .iter()
            .zip(&classic.exemplars)
            .filter(|((edge, _), _)| edge.is_finite())
            .map(|((edge, cumulative), exemplar)| Bucket {
                cumulative_count: Some(*cumulative),
                upper_bound: Some(*edge),
                exemplar: exemplar.as_ref().map(prom_exemplar),
            })
            .collect(),
        ..Histogram::default()
    };
    if let Some(native) = native.filter(|n| n.scale >= *NATIVE_SCALES.start()) {
        let mut native = native.clone();
        native.downscale(*NATIVE_SCALES.end());
        h.schema = Some(native.scale);
        h.zero_threshold = Some(ZERO_THRESHOLD);
        h.zero_count = Some(native.zero_count);
        // One span over the dense counts (zeros inside it cost a delta each); an empty
        // histogram still gets a span, of length 0, as the format asks.
        h.positive_span = vec![BucketSpan {
            offset: Some(native.offset + 1),
            length: Some(native.counts.len() as u32),
        }];
        let mut previous = 0i64;
        h.positive_delta = native
            .counts
            .iter()
            .map(|n| {
                let n = i64::try_from(*n).unwrap_or(i64::MAX);
                let delta = n.wrapping_sub(previous);
                previous = n;
                delta
            })
            .collect();
    }
    Metric {
        label: attribute_labels(attributes),
        histogram: Some(h),
        ..Metric::default()
    }
}

fn prom_exemplar(e: &Exemplar) -> PromExemplar {
    let (trace, span) = (e.trace_id.to_string(), e.span_id.to_string());
    PromExemplar {
        label: labels([("trace_id", trace.as_str()), ("span_id", span.as_str())].into_iter()),
        value: Some(e.value),
        timestamp: Some(Timestamp {
            seconds: (e.time_unix_nano / 1_000_000_000) as i64,
            nanos: (e.time_unix_nano % 1_000_000_000) as i32,
        }),
    }
}

fn telemetry_families(telemetry: &TelemetrySnapshot) -> Vec<MetricFamily> {
    let groups: [(&[TelemetryPoint], FamilyKind); 2] = [
        (&telemetry.counters, FamilyKind::Counter),
        (&telemetry.gauges, FamilyKind::Gauge),
    ];
    let mut out = Vec::new();
    for (points, kind) in groups {
        let mut by_name: BTreeMap<String, Vec<Metric>> = BTreeMap::new();
        for point in points {
            let base = sanitize(&point.name);
            let name = match kind {
                FamilyKind::Counter => format!("{base}_total"),
                _ => base,
            };
            let label = labels(point.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            by_name
                .entry(name)
                .or_default()
                .push(number(label, kind, point.value));
        }
        let kind = match kind {
            FamilyKind::Counter => MetricType::Counter,
            _ => MetricType::Gauge,
        };
        out.extend(by_name.into_iter().map(|(name, metric)| MetricFamily {
            name: Some(name),
            help: None,
            r#type: Some(kind as i32),
            metric,
        }));
    }
    out
}

// The messages of `io.prometheus.client` (metrics.proto, proto2) that a scrape uses,
// with their field numbers.

/// `MetricFamily`.
#[derive(Clone, PartialEq, Message)]
pub struct MetricFamily {
    /// Family name (counters end in `_total`).
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// Help text.
    #[prost(string, optional, tag = "2")]
    pub help: Option<String>,
    /// A [`MetricType`].
    #[prost(enumeration = "MetricType", optional, tag = "3")]
    pub r#type: Option<i32>,
    /// The series.
    #[prost(message, repeated, tag = "4")]
    pub metric: Vec<Metric>,
}

/// `MetricType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MetricType {
    /// A counter.
    Counter = 0,
    /// A gauge.
    Gauge = 1,
    /// A histogram (classic, native or both).
    Histogram = 4,
}

/// `Metric`: one series.
#[derive(Clone, PartialEq, Message)]
pub struct Metric {
    /// Its labels.
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    /// A gauge's value.
    #[prost(message, optional, tag = "2")]
    pub gauge: Option<Value>,
    /// A counter's value.
    #[prost(message, optional, tag = "3")]
    pub counter: Option<Value>,
    /// A histogram.
    #[prost(message, optional, tag = "7")]
    pub histogram: Option<Histogram>,
}

/// `LabelPair`.
#[derive(Clone, PartialEq, Message)]
pub struct LabelPair {
    /// Label name.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// Label value.
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
}

/// `Gauge` and `Counter` (both a double at field 1).
#[derive(Clone, PartialEq, Message)]
pub struct Value {
    /// The value.
    #[prost(double, optional, tag = "1")]
    pub value: Option<f64>,
}

/// `Histogram`: classic buckets and the native (sparse exponential) fields.
#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
    /// Values recorded.
    #[prost(uint64, optional, tag = "1")]
    pub sample_count: Option<u64>,
    /// Their sum.
    #[prost(double, optional, tag = "2")]
    pub sample_sum: Option<f64>,
    /// Classic buckets, cumulative, without `+Inf`.
    #[prost(message, repeated, tag = "3")]
    pub bucket: Vec<Bucket>,
    /// Native schema (the OTLP scale).
    #[prost(sint32, optional, tag = "5")]
    pub schema: Option<i32>,
    /// Upper bound of the zero bucket.
    #[prost(double, optional, tag = "6")]
    pub zero_threshold: Option<f64>,
    /// Values in the zero bucket.
    #[prost(uint64, optional, tag = "7")]
    pub zero_count: Option<u64>,
    /// Runs of positive buckets: the first offset absolute, the next ones gaps.
    #[prost(message, repeated, tag = "12")]
    pub positive_span: Vec<BucketSpan>,
    /// Positive bucket counts, each as the difference to the previous one.
    #[prost(sint64, repeated, packed = "false", tag = "13")]
    pub positive_delta: Vec<i64>,
}

/// `Bucket`: a classic bucket.
#[derive(Clone, PartialEq, Message)]
pub struct Bucket {
    /// Values up to and including `upper_bound`.
    #[prost(uint64, optional, tag = "1")]
    pub cumulative_count: Option<u64>,
    /// The `le` bound.
    #[prost(double, optional, tag = "2")]
    pub upper_bound: Option<f64>,
    /// A value in this bucket and the trace it came from.
    #[prost(message, optional, tag = "3")]
    pub exemplar: Option<PromExemplar>,
}

/// `Exemplar`: labels (the trace and span ids), the value and when it was recorded.
#[derive(Clone, PartialEq, Message)]
pub struct PromExemplar {
    /// `trace_id` and `span_id`.
    #[prost(message, repeated, tag = "1")]
    pub label: Vec<LabelPair>,
    /// The value.
    #[prost(double, optional, tag = "2")]
    pub value: Option<f64>,
    /// When.
    #[prost(message, optional, tag = "3")]
    pub timestamp: Option<Timestamp>,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, PartialEq, Message)]
pub struct Timestamp {
    /// Seconds since the epoch.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Nanoseconds within the second.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `BucketSpan`.
#[derive(Clone, PartialEq, Message)]
pub struct BucketSpan {
    /// Gap to the previous span (the first: its first bucket's index).
    #[prost(sint32, optional, tag = "1")]
    pub offset: Option<i32>,
    /// Buckets in the run.
    #[prost(uint32, optional, tag = "2")]
    pub length: Option<u32>,
}
