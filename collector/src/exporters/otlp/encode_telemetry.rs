//! The agent's own metrics ([`TelemetrySnapshot`]) as OTLP metrics, so the health
//! dashboard works behind an OTLP backend as well as on a direct scrape.
//!
//! Contract: the same names as the scrape endpoint's before Prometheus naming
//! (`kotel.component.events.received`), labels as attributes, counters as cumulative
//! monotonic sums since the agent started, gauges as gauges; values are doubles, as the
//! registry keeps them. One metric per name, one point per label set.

use opentelemetry_proto::tonic::metrics::v1 as otlp;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;

use crate::event::{TelemetryPoint, TelemetrySnapshot};
use crate::exporters::otlp::resource::key_values;

/// The metrics of `snapshot`: counters, then gauges, each sorted by name.
pub fn telemetry_metrics(snapshot: &TelemetrySnapshot) -> Vec<otlp::Metric> {
    let counters = by_name(&snapshot.counters).map(|(name, points)| {
        let data = otlp::metric::Data::Sum(otlp::Sum {
            data_points: number_points(snapshot, points),
            aggregation_temporality: otlp::AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        });
        metric(name, data)
    });
    let gauges = by_name(&snapshot.gauges).map(|(name, points)| {
        let data = otlp::metric::Data::Gauge(otlp::Gauge {
            data_points: number_points(snapshot, points),
        });
        metric(name, data)
    });
    counters.chain(gauges).collect()
}

/// Data points in `snapshot`.
pub fn data_points(snapshot: &TelemetrySnapshot) -> usize {
    snapshot.counters.len() + snapshot.gauges.len()
}

fn metric(name: &str, data: otlp::metric::Data) -> otlp::Metric {
    otlp::Metric {
        name: name.to_string(),
        data: Some(data),
        ..Default::default()
    }
}

/// Runs of points with one name (a snapshot's points are sorted by name).
fn by_name(points: &[TelemetryPoint]) -> impl Iterator<Item = (&str, &[TelemetryPoint])> {
    points
        .chunk_by(|a, b| a.name == b.name)
        .map(|run| (run[0].name.as_str(), run))
}

fn number_points(
    snapshot: &TelemetrySnapshot,
    points: &[TelemetryPoint],
) -> Vec<otlp::NumberDataPoint> {
    points
        .iter()
        .map(|p| otlp::NumberDataPoint {
            attributes: key_values(p.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            start_time_unix_nano: snapshot.start_time_unix_nano,
            time_unix_nano: snapshot.time_unix_nano,
            value: Some(NumberValue::AsDouble(p.value)),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
#[path = "encode_telemetry_tests.rs"]
mod tests;
