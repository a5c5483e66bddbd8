use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::ScrapeState;
use super::text::{render, Format};
use super::*;
use crate::event::{
    Attributes, ExponentialPoint, HistogramPoint, Metric, MetricBatch, MetricData, NumberPoint,
    PointHeader, TelemetryPoint, TelemetrySnapshot, Temporality,
};

fn header(pod: &str) -> PointHeader {
    PointHeader {
        attributes: attributes(&[("k8s.pod.name", pod)]),
        start_time_unix_nano: 1,
        time_unix_nano: 2,
    }
}

fn batch(temporality: Temporality, opened: &[(&str, i64)]) -> MetricBatch {
    MetricBatch {
        time_unix_nano: 2,
        metrics: vec![
            Metric {
                name: "tcp.connection.opened".into(),
                description: "TCP connections established".into(),
                unit: "{connection}".into(),
                data: MetricData::Sum {
                    monotonic: true,
                    temporality,
                    points: opened
                        .iter()
                        .map(|(pod, v)| NumberPoint {
                            header: header(pod),
                            value: *v,
                        })
                        .collect(),
                },
            },
            Metric {
                name: "tcp.connection.open".into(),
                description: "open".into(),
                unit: "{connection}".into(),
                data: MetricData::Sum {
                    monotonic: false,
                    temporality: Temporality::Cumulative,
                    points: vec![NumberPoint {
                        header: header("web"),
                        value: 3,
                    }],
                },
            },
            Metric {
                name: "tcp.connection.duration".into(),
                description: "Lifetime".into(),
                unit: "s".into(),
                data: MetricData::Histogram {
                    temporality,
                    points: vec![HistogramPoint {
                        header: header("web"),
                        count: 3,
                        sum: 0.75,
                        bounds: Arc::from([0.1, 0.5]),
                        bucket_counts: vec![1, 1, 1],
                    }],
                },
            },
            Metric {
                name: "tcp.rtt".into(),
                description: "RTT".into(),
                unit: "s".into(),
                data: MetricData::ExponentialHistogram {
                    temporality,
                    points: vec![ExponentialPoint {
                        header: header("web"),
                        count: 3,
                        sum: 0.003,
                        scale: 0,
                        zero_count: 0,
                        offset: -10,
                        bucket_counts: vec![2, 1],
                    }],
                },
            },
        ],
    }
}

fn telemetry() -> TelemetrySnapshot {
    TelemetrySnapshot {
        time_unix_nano: 0,
        counters: vec![TelemetryPoint {
            name: "kotel.component.events.received".into(),
            labels: vec![("component_id".into(), "tcp".into())],
            value: 12.0,
        }],
        gauges: vec![],
    }
}

#[test]
fn the_exposition_names_units_totals_buckets_and_self_metrics_the_prometheus_way() {
    let mut state = ScrapeState::default();
    state.merge(
        &batch(Temporality::Cumulative, &[("web", 5), ("db\"x", 1)]),
        Instant::now(),
    );
    let resource = vec![("service_name".to_string(), "kotel".to_string())];
    let text = render(&state, &telemetry(), &resource, Format::Text);
    for line in [
        "# TYPE tcp_connection_opened_total counter",
        "tcp_connection_opened_total{k8s_pod_name=\"web\"} 5",
        "tcp_connection_opened_total{k8s_pod_name=\"db\\\"x\"} 1",
        "# TYPE tcp_connection_open gauge",
        "tcp_connection_open{k8s_pod_name=\"web\"} 3",
        "# TYPE tcp_connection_duration_seconds histogram",
        "tcp_connection_duration_seconds_bucket{k8s_pod_name=\"web\",le=\"0.1\"} 1",
        "tcp_connection_duration_seconds_bucket{k8s_pod_name=\"web\",le=\"0.5\"} 2",
        "tcp_connection_duration_seconds_bucket{k8s_pod_name=\"web\",le=\"+Inf\"} 3",
        "tcp_connection_duration_seconds_sum{k8s_pod_name=\"web\"} 0.75",
        "tcp_connection_duration_seconds_count{k8s_pod_name=\"web\"} 3",
        // Scale 0, offset -10: buckets end at 2^-9 and 2^-8.
        "tcp_rtt_seconds_bucket{k8s_pod_name=\"web\",le=\"0.001953125\"} 2",
        "tcp_rtt_seconds_bucket{k8s_pod_name=\"web\",le=\"0.00390625\"} 3",
        "tcp_rtt_seconds_bucket{k8s_pod_name=\"web\",le=\"+Inf\"} 3",
        "kotel_component_events_received_total{component_id=\"tcp\"} 12",
        "target_info{service_name=\"kotel\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(!text.contains("# EOF"));
    let open = render(&state, &telemetry(), &resource, Format::OpenMetrics);
    assert!(
        open.contains("# TYPE tcp_connection_opened counter\n"),
        "{open}"
    );
    assert!(open.contains("tcp_connection_opened_total{k8s_pod_name=\"web\"} 5\n"));
    assert!(open.ends_with("# EOF\n"));
}

#[test]
fn deltas_add_up_and_cumulative_points_replace_their_family() {
    let mut state = ScrapeState::default();
    let now = Instant::now();
    state.merge(&batch(Temporality::Delta, &[("web", 2)]), now);
    state.merge(&batch(Temporality::Delta, &[("web", 3)]), now);
    let text = render(&state, &telemetry(), &[], Format::Text);
    assert!(
        text.contains("tcp_connection_opened_total{k8s_pod_name=\"web\"} 5\n"),
        "{text}"
    );
    assert!(text.contains("tcp_connection_duration_seconds_count{k8s_pod_name=\"web\"} 6\n"));

    state.merge(&batch(Temporality::Cumulative, &[("db", 1)]), now);
    let text = render(&state, &telemetry(), &[], Format::Text);
    assert!(
        !text.contains("k8s_pod_name=\"web\"} 5"),
        "replaced: {text}"
    );
    assert!(text.contains("tcp_connection_opened_total{k8s_pod_name=\"db\"} 1\n"));
    // Series nobody updates go stale.
    state.merge(
        &MetricBatch {
            time_unix_nano: 3,
            metrics: vec![],
        },
        now + state::STALE_AFTER + Duration::from_secs(1),
    );
    assert!(
        !render(&state, &telemetry(), &[], Format::Text).contains("tcp_connection_opened_total{")
    );
}

#[tokio::test]
async fn the_endpoint_serves_text_openmetrics_and_404() {
    crate::telemetry::install();
    metrics::counter!("kotel.test.scrapes").increment(1);
    let config = PrometheusExporterConfig {
        listen: "127.0.0.1:0".into(),
        ..PrometheusExporterConfig::default()
    };
    let mut exporter = PrometheusExporter::new("prometheus", &config);
    let address = exporter.local_addr().expect("listening");
    exporter
        .export(&vec![Event::Metrics(batch(
            Temporality::Cumulative,
            &[("web", 7)],
        ))])
        .await
        .unwrap();
    let get = |path: &'static str, accept: &'static str| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\n\r\n");
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    let text = get("/metrics", "text/plain").await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Type: text/plain; version=0.0.4"));
    assert!(text.contains("tcp_connection_opened_total{k8s_pod_name=\"web\"} 7\n"));
    assert!(
        text.contains("kotel_test_scrapes_total"),
        "self-telemetry is live: {text}"
    );
    let open = get("/metrics", "application/openmetrics-text;version=1.0.0").await;
    assert!(open.contains("application/openmetrics-text") && open.ends_with("# EOF\n"));
    assert!(get("/nope", "*/*").await.starts_with("HTTP/1.1 404"));
}

/// Attribute pairs as a shared set.
pub fn attributes(pairs: &[(&str, &str)]) -> Attributes {
    Arc::from(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>(),
    )
}
