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
mod tests {
    use super::*;

    fn point(name: &str, label: &str, value: f64) -> TelemetryPoint {
        TelemetryPoint {
            name: name.into(),
            labels: vec![("component_id".into(), label.into())],
            value,
        }
    }

    #[test]
    fn counters_are_cumulative_sums_and_gauges_gauges_one_metric_per_name() {
        let snapshot = TelemetrySnapshot {
            start_time_unix_nano: 10,
            time_unix_nano: 20,
            counters: vec![
                point("t.a", "x", 1.0),
                point("t.a", "y", 2.0),
                point("t.b", "x", 3.0),
            ],
            gauges: vec![point("t.depth", "x", 0.5)],
        };
        let metrics = telemetry_metrics(&snapshot);
        let names: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["t.a", "t.b", "t.depth"]);
        let Some(otlp::metric::Data::Sum(sum)) = &metrics[0].data else {
            panic!("{:?}", metrics[0]);
        };
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.aggregation_temporality,
            otlp::AggregationTemporality::Cumulative as i32
        );
        assert_eq!(sum.data_points.len(), 2);
        let second = &sum.data_points[1];
        assert_eq!(
            (second.start_time_unix_nano, second.time_unix_nano),
            (10, 20)
        );
        assert_eq!(second.value, Some(NumberValue::AsDouble(2.0)));
        assert_eq!(second.attributes[0].key, "component_id");
        let Some(otlp::metric::Data::Gauge(gauge)) = &metrics[2].data else {
            panic!("{:?}", metrics[2]);
        };
        assert_eq!(gauge.data_points[0].value, Some(NumberValue::AsDouble(0.5)));
        assert_eq!(data_points(&snapshot), 4);
    }
}
