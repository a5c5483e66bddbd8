//! [`MetricBatch`] -> OTLP `ExportMetricsServiceRequest`: one resource (the agent and its
//! node), one scope (`kotel`), every metric and point one-to-one, followed by the agent's
//! own metrics when snapshots of them come along (`encode_telemetry`).

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1 as otlp;
use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::event::{
    Attributes, Exemplar, ExponentialPoint, HistogramPoint, Metric, MetricBatch, MetricData,
    NumberPoint, TelemetrySnapshot, Temporality,
};
use crate::exporters::otlp::encode_telemetry::{self, telemetry_metrics};
use crate::exporters::otlp::resource::{key_values, scope};

/// The request carrying `batches` and the self-telemetry `snapshots`, under `resource`.
pub fn metrics_request(
    resource: &Resource,
    batches: &[&MetricBatch],
    snapshots: &[&TelemetrySnapshot],
) -> ExportMetricsServiceRequest {
    let metrics = batches
        .iter()
        .flat_map(|b| b.metrics.iter())
        .map(metric)
        .chain(snapshots.iter().flat_map(|s| telemetry_metrics(s)))
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![otlp::ResourceMetrics {
            resource: Some(resource.clone()),
            scope_metrics: vec![otlp::ScopeMetrics {
                scope: Some(scope()),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Number of data points in `batches` and `snapshots` (what a partial success counts).
pub fn data_points(batches: &[&MetricBatch], snapshots: &[&TelemetrySnapshot]) -> usize {
    let data: usize = batches
        .iter()
        .flat_map(|b| b.metrics.iter())
        .map(|m| m.data.len())
        .sum();
    data + snapshots
        .iter()
        .map(|s| encode_telemetry::data_points(s))
        .sum::<usize>()
}

fn metric(m: &Metric) -> otlp::Metric {
    let data = match &m.data {
        MetricData::Sum {
            monotonic,
            temporality,
            points,
        } => otlp::metric::Data::Sum(otlp::Sum {
            data_points: points.iter().map(number_point).collect(),
            aggregation_temporality: temporality_of(*temporality),
            is_monotonic: *monotonic,
        }),
        MetricData::Histogram {
            temporality,
            points,
        } => otlp::metric::Data::Histogram(otlp::Histogram {
            data_points: points.iter().map(histogram_point).collect(),
            aggregation_temporality: temporality_of(*temporality),
        }),
        MetricData::ExponentialHistogram {
            temporality,
            points,
        } => otlp::metric::Data::ExponentialHistogram(otlp::ExponentialHistogram {
            data_points: points.iter().map(exponential_point).collect(),
            aggregation_temporality: temporality_of(*temporality),
        }),
    };
    otlp::Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        data: Some(data),
        ..Default::default()
    }
}

fn temporality_of(t: Temporality) -> i32 {
    match t {
        Temporality::Cumulative => otlp::AggregationTemporality::Cumulative as i32,
        Temporality::Delta => otlp::AggregationTemporality::Delta as i32,
    }
}

fn attributes(a: &Attributes) -> Vec<opentelemetry_proto::tonic::common::v1::KeyValue> {
    key_values(a.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn number_point(p: &NumberPoint) -> otlp::NumberDataPoint {
    otlp::NumberDataPoint {
        attributes: attributes(&p.header.attributes),
        start_time_unix_nano: p.header.start_time_unix_nano,
        time_unix_nano: p.header.time_unix_nano,
        value: Some(NumberValue::AsInt(p.value)),
        ..Default::default()
    }
}

fn histogram_point(p: &HistogramPoint) -> otlp::HistogramDataPoint {
    otlp::HistogramDataPoint {
        attributes: attributes(&p.header.attributes),
        start_time_unix_nano: p.header.start_time_unix_nano,
        time_unix_nano: p.header.time_unix_nano,
        count: p.count,
        sum: Some(p.sum),
        bucket_counts: p.bucket_counts.clone(),
        explicit_bounds: p.bounds.to_vec(),
        exemplars: p.exemplars.iter().map(exemplar).collect(),
        ..Default::default()
    }
}

fn exemplar(e: &Exemplar) -> otlp::Exemplar {
    otlp::Exemplar {
        filtered_attributes: Vec::new(),
        time_unix_nano: e.time_unix_nano,
        span_id: e.span_id.as_bytes().to_vec(),
        trace_id: e.trace_id.as_bytes().to_vec(),
        value: Some(otlp::exemplar::Value::AsDouble(e.value)),
    }
}

fn exponential_point(p: &ExponentialPoint) -> otlp::ExponentialHistogramDataPoint {
    otlp::ExponentialHistogramDataPoint {
        attributes: attributes(&p.header.attributes),
        start_time_unix_nano: p.header.start_time_unix_nano,
        time_unix_nano: p.header.time_unix_nano,
        count: p.count,
        sum: Some(p.sum),
        scale: p.scale,
        zero_count: p.zero_count,
        positive: Some(Buckets {
            offset: p.offset,
            bucket_counts: p.bucket_counts.clone(),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
#[path = "encode_metrics_tests.rs"]
mod tests;
