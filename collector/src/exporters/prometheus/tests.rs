use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::ScrapeState;
use super::text::{render, Format};
use super::*;
use crate::event::{
    Attributes, Exemplar, ExponentialPoint, HistogramPoint, Metric, MetricBatch, MetricData,
    NumberPoint, PointHeader, TelemetryPoint, TelemetrySnapshot, Temporality,
};

fn header(pod: &str) -> PointHeader {
    PointHeader {
        attributes: attributes(&[("k8s.pod.name", pod)]),
        start_time_unix_nano: 1,
        time_unix_nano: 2,
    }
}

pub fn batch(temporality: Temporality, opened: &[(&str, i64)]) -> MetricBatch {
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
                        exemplars: vec![exemplar(0.3, 7)],
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

pub fn telemetry() -> TelemetrySnapshot {
    TelemetrySnapshot {
        start_time_unix_nano: 0,
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
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
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
    let native = get("/metrics", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;q=0.3").await;
    assert!(native.contains("Content-Type: application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited\r\n"), "{native}");
}

fn rtt(points: &[(&str, i32, &[u64])]) -> MetricBatch {
    MetricBatch {
        time_unix_nano: 2,
        metrics: vec![Metric {
            name: "tcp.rtt".into(),
            description: "RTT".into(),
            unit: "s".into(),
            data: MetricData::ExponentialHistogram {
                temporality: Temporality::Cumulative,
                points: points
                    .iter()
                    .map(|(pod, offset, counts)| ExponentialPoint {
                        header: header(pod),
                        count: counts.iter().sum(),
                        sum: 0.1,
                        scale: 2,
                        zero_count: 0,
                        offset: *offset,
                        bucket_counts: counts.to_vec(),
                    })
                    .collect(),
            },
        }],
    }
}

/// `(le, cumulative count)` of each `tcp_rtt_seconds_bucket` line per pod.
fn buckets_by_pod(text: &str) -> std::collections::BTreeMap<String, Vec<(String, u64)>> {
    let mut out = std::collections::BTreeMap::<String, Vec<(String, u64)>>::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("tcp_rtt_seconds_bucket{"))
    {
        let pod = line
            .split("k8s_pod_name=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let le = line
            .split("le=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let count = line.rsplit(' ').next().unwrap().parse().unwrap();
        out.entry(pod.to_string())
            .or_default()
            .push((le.to_string(), count));
    }
    out
}

#[test]
fn every_series_of_an_exponential_family_shows_the_same_fixed_le_set() {
    let mut state = ScrapeState::default();
    // 2^-12.5 .. 2^-12 s and 2^-5 .. 2^-4.75 s: 31 buckets apart.
    state.merge(
        &rtt(&[("fast", -50, &[3, 0, 1]), ("slow", -20, &[4])]),
        Instant::now(),
    );
    let text = render(&state, &telemetry(), &[], Format::Text);
    let by_pod = buckets_by_pod(&text);
    let (fast, slow) = (&by_pod["fast"], &by_pod["slow"]);
    let les = |s: &Vec<(String, u64)>| s.iter().map(|(le, _)| le.clone()).collect::<Vec<_>>();
    assert_eq!(les(fast), les(slow), "{text}");
    // The zero bucket, one edge per doubling from 2^-23 to 2^10 s, +Inf.
    assert_eq!(fast.len(), 1 + 34 + 1);
    assert_eq!(fast[0].0, "0");
    assert_eq!(fast.last().unwrap(), &("+Inf".to_string(), 4));
    for series in [fast, slow] {
        assert!(
            series.windows(2).all(|w| w[0].1 <= w[1].1),
            "monotone: {series:?}"
        );
        let edges: Vec<f64> = series[..series.len() - 1]
            .iter()
            .map(|(le, _)| le.parse().unwrap())
            .collect();
        assert!(
            edges.windows(2).all(|w| w[0] < w[1]),
            "ascending: {edges:?}"
        );
    }
    let at = |series: &Vec<(String, u64)>, le: f64| {
        series.iter().find(|(l, _)| *l == le.to_string()).unwrap().1
    };
    assert_eq!(at(fast, 2f64.powi(-13)), 0);
    // Scale-2 buckets -50 and -48 fall in (2^-13, 2^-12] and (2^-12, 2^-11].
    assert_eq!((at(fast, 2f64.powi(-12)), at(fast, 2f64.powi(-11))), (3, 4));
    assert_eq!(
        at(slow, 2f64.powi(-5)),
        0,
        "slow has nothing below its bucket"
    );
    assert_eq!(at(slow, 2f64.powi(-4)), 4);
    // The set does not depend on the data: another agent, another range, same edges.
    let mut other = ScrapeState::default();
    other.merge(&rtt(&[("fast", -90, &[1])]), Instant::now());
    let text_other = render(&other, &telemetry(), &[], Format::Text);
    assert_eq!(les(&buckets_by_pod(&text_other)["fast"]), les(fast));
}

#[test]
fn protobuf_scrapes_carry_native_histograms_with_their_classic_buckets() {
    use prost::Message;
    let mut state = ScrapeState::default();
    state.merge(
        &batch(Temporality::Cumulative, &[("web", 5)]),
        Instant::now(),
    );
    let resource = vec![("service_name".to_string(), "kotel".to_string())];
    let body = super::protobuf::render(&state, &telemetry(), &resource);
    let mut families = std::collections::BTreeMap::new();
    let mut rest = body.as_slice();
    while !rest.is_empty() {
        let family = protobuf::MetricFamily::decode_length_delimited(&mut rest).expect("delimited");
        families.insert(family.name.clone().unwrap(), family);
    }
    let opened = &families["tcp_connection_opened_total"];
    assert_eq!(opened.r#type, Some(protobuf::MetricType::Counter as i32));
    assert_eq!(opened.metric[0].counter.as_ref().unwrap().value, Some(5.0));
    let rtt = &families["tcp_rtt_seconds"];
    assert_eq!(rtt.r#type, Some(protobuf::MetricType::Histogram as i32));
    let h = rtt.metric[0].histogram.as_ref().unwrap();
    assert_eq!((h.sample_count, h.schema), (Some(3), Some(0)));
    assert_eq!(h.zero_threshold, Some(2f64.powi(-128)));
    // OTLP index -10 is Prometheus index -9: (2^-10, 2^-9].
    assert_eq!(h.positive_span.len(), 1);
    assert_eq!(
        (h.positive_span[0].offset, h.positive_span[0].length),
        (Some(-9), Some(2))
    );
    assert_eq!(h.positive_delta, [2, -1]);
    let classic: Vec<_> = h
        .bucket
        .iter()
        .map(|b| (b.upper_bound.unwrap(), b.cumulative_count.unwrap()))
        .collect();
    assert_eq!(classic.len(), 1 + 34, "the fixed classic edges");
    let at = |edge: f64| classic.iter().find(|(e, _)| *e == edge).unwrap().1;
    assert_eq!(
        (
            at(0.0),
            at(2f64.powi(-10)),
            at(2f64.powi(-9)),
            at(2f64.powi(-8))
        ),
        (0, 0, 2, 3)
    );
    let duration = families["tcp_connection_duration_seconds"].metric[0]
        .histogram
        .as_ref()
        .unwrap();
    assert_eq!(duration.schema, None, "explicit histograms stay classic");
    assert_eq!(duration.bucket.len(), 2);
    assert_eq!(
        families["kotel_component_events_received_total"].metric[0]
            .counter
            .as_ref()
            .unwrap()
            .value,
        Some(12.0)
    );
    assert_eq!(
        families["target_info"].metric[0].label[0].value.as_deref(),
        Some("kotel")
    );
}

/// An exemplar of `value` at second 1700000000.5 whose ids end in `n`.
pub fn exemplar(value: f64, n: u8) -> Exemplar {
    let mut trace = [0xab; 16];
    trace[15] = n;
    Exemplar {
        value,
        time_unix_nano: 1_700_000_000_500_000_000,
        trace_id: crate::event::trace_ids::Id(trace),
        span_id: crate::event::trace_ids::Id([0, 0, 0, 0, 0, 0, 0, n]),
    }
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
