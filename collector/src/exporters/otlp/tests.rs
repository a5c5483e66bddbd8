//! The sender's reactions to a backend's answers, against an in-process HTTP server that
//! answers what each test scripts (fault injection; the real receivers are in
//! tests/tests/export_receivers.rs): partial success, Retry-After, a non-retryable
//! refusal, shutdown during a long backoff.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::config::{Protocol, RetryConfig};
use super::*;
use crate::event::{Metric, MetricBatch, MetricData, NumberPoint, PointHeader, Temporality};

/// A scripted answer: status line and body.
type Answer = (&'static str, Vec<u8>);

/// Serves `answers` in order (the last one repeats); returns its port and the times at
/// which requests arrived.
async fn backend(answers: Vec<Answer>) -> (u16, Arc<Mutex<Vec<Instant>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&arrivals);
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 65536];
            // Headers, then the body by Content-Length.
            loop {
                let read = conn.read(&mut buf).await.unwrap_or(0);
                if read == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..read]);
                let text = String::from_utf8_lossy(&request);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            seen.lock().unwrap().push(Instant::now());
            let (status, body) = &answers[n.min(answers.len() - 1)];
            n += 1;
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).await;
            let _ = conn.write_all(body).await;
        }
    });
    (port, arrivals)
}

fn batch(points: usize) -> Batch {
    let points = (0..points)
        .map(|i| NumberPoint {
            header: PointHeader {
                attributes: Arc::from(vec![("i".to_string(), i.to_string())]),
                start_time_unix_nano: 1,
                time_unix_nano: 2,
            },
            value: 1,
        })
        .collect();
    vec![Event::Metrics(MetricBatch {
        time_unix_nano: 2,
        metrics: vec![Metric {
            name: "m".into(),
            description: String::new(),
            unit: "1".into(),
            data: MetricData::Sum {
                monotonic: true,
                temporality: Temporality::Cumulative,
                points,
            },
        }],
    })]
}

fn exporter(id: &str, port: u16) -> OtlpExporter {
    let config = OtlpExporterConfig {
        endpoint: format!("http://127.0.0.1:{port}"),
        protocol: Protocol::HttpProtobuf,
        retry: RetryConfig {
            initial_interval: Duration::from_millis(10),
            max_interval: Duration::from_millis(20),
            max_elapsed: Duration::from_secs(5),
        },
        ..OtlpExporterConfig::default()
    };
    OtlpExporter::new(id, &config)
}

/// A flush deadline no test here reaches.
fn unhurried() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(60)
}

fn count(name: &str, id: &str, reason: Option<&str>) -> f64 {
    let mut labels = vec![("component_id", id)];
    if let Some(reason) = reason {
        labels.push(("reason", reason));
    }
    crate::telemetry::snapshot().counter_sum(name, &labels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_success_counts_the_rejected_points_and_the_rest_as_sent() {
    crate::telemetry::install();
    let partial = ExportMetricsServiceResponse {
        partial_success: Some(ExportMetricsPartialSuccess {
            rejected_data_points: 2,
            error_message: "two bad points".into(),
        }),
    };
    let (port, _) = backend(vec![("200 OK", partial.encode_to_vec())]).await;
    let mut e = exporter("otlp/partial", port);
    e.export(&batch(5)).await.unwrap();
    e.flush(unhurried()).await.unwrap();
    assert_eq!(count(names::OTLP_SENT, "otlp/partial", None), 3.0);
    assert_eq!(
        count(
            names::OTLP_DROPPED,
            "otlp/partial",
            Some("partial_rejected")
        ),
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_waited_out_and_a_refusal_is_not_retried() {
    crate::telemetry::install();
    let ok = ExportMetricsServiceResponse::default().encode_to_vec();
    let throttled = ("503 Service Unavailable\r\nretry-after: 1", Vec::new());
    let (port, arrivals) = backend(vec![throttled, ("200 OK", ok)]).await;
    let mut e = exporter("otlp/throttled", port);
    e.export(&batch(4)).await.unwrap();
    // Not flushed yet: at shutdown a request gets one attempt, not its retries.
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(names::OTLP_SENT, "otlp/throttled", None) < 4.0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    e.flush(unhurried()).await.unwrap();
    let times = arrivals.lock().unwrap().clone();
    assert_eq!(times.len(), 2, "one retry");
    assert!(
        times[1] - times[0] >= Duration::from_millis(950),
        "waited {:?}",
        times[1] - times[0]
    );
    assert_eq!(count(names::OTLP_SENT, "otlp/throttled", None), 4.0);
    assert_eq!(count(names::OTLP_RETRIES, "otlp/throttled", None), 1.0);

    let (port, arrivals) = backend(vec![("400 Bad Request", Vec::new())]).await;
    let mut e = exporter("otlp/refused", port);
    e.export(&batch(3)).await.unwrap();
    e.flush(unhurried()).await.unwrap();
    assert_eq!(arrivals.lock().unwrap().len(), 1, "not retried");
    assert_eq!(
        count(names::OTLP_DROPPED, "otlp/refused", Some("rejected")),
        3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_cuts_a_backoff_short_and_counts_the_request_dropped() {
    crate::telemetry::install();
    let throttled = ("503 Service Unavailable\r\nretry-after: 4", Vec::new());
    let (port, arrivals) = backend(vec![throttled]).await;
    let mut e = exporter("otlp/backing-off", port);
    e.export(&batch(3)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while count(names::OTLP_RETRIES, "otlp/backing-off", None) < 1.0 {
        assert!(Instant::now() < deadline, "no first attempt");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The sender now waits the 4 s the server asked for; shutdown does not.
    let started = Instant::now();
    e.flush(unhurried()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "flush took {:?}",
        started.elapsed()
    );
    assert_eq!(arrivals.lock().unwrap().len(), 2, "one more attempt");
    assert_eq!(
        count(names::OTLP_DROPPED, "otlp/backing-off", Some("shutdown")),
        3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_backend_holds_shutdown_only_until_the_deadline_and_every_request_is_counted() {
    crate::telemetry::install();
    // Accepts connections and reads, never answers (fault injection).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 65536];
                while conn.read(&mut buf).await.unwrap_or(0) > 0 {}
            });
        }
    });
    let mut config = OtlpExporterConfig {
        endpoint: format!("http://127.0.0.1:{port}"),
        protocol: Protocol::HttpProtobuf,
        timeout: Duration::from_secs(5),
        ..OtlpExporterConfig::default()
    };
    config.queue.max_requests = 100;
    let mut e = OtlpExporter::new("otlp/stalled", &config);
    // Six requests of two points: one goes in flight and hangs, five wait.
    for _ in 0..6 {
        e.export(&batch(2)).await.unwrap();
    }
    let started = tokio::time::Instant::now();
    e.flush(started + Duration::from_millis(400)).await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(700),
        "flush took {took:?}; the per-request timeout is 5 s, six requests"
    );
    assert_eq!(count(names::OTLP_SENT, "otlp/stalled", None), 0.0);
    assert_eq!(
        count(names::OTLP_DROPPED, "otlp/stalled", Some("shutdown")),
        12.0,
        "every point of every request, the one in flight included"
    );
}
