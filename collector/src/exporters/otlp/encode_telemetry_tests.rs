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
