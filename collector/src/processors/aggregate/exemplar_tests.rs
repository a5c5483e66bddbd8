//! Exemplars of the HTTP request-duration histograms: the last request per bucket, with
//! its trace and span, once per collection; none when turned off.

use super::*;
use crate::event::{HistogramPoint, MetricData, SpanId, TraceId};

/// A server request of `millis` whose ids end in `n`.
fn request(millis: u64, n: u8) -> Event {
    let mut trace = [0x11; 16];
    trace[15] = n;
    Event::Http(HttpEvent {
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: 1_000_000_000 + millis * 1_000_000,
        status: 200,
        route: "/orders/{id}".into(),
        trace_id: TraceId::from_bytes(trace),
        span_id: SpanId::from_bytes([0, 0, 0, 0, 0, 0, 0, n]),
        ..HttpEvent::default()
    })
}

fn server_point(p: &mut AggregateProcessor) -> HistogramPoint {
    let batch = match p.release(Release::All).pop() {
        Some(Event::Metrics(m)) => m,
        other => panic!("no metrics: {other:?}"),
    };
    let metric = batch
        .metrics
        .iter()
        .find(|m| m.name == "http.server.request.duration")
        .expect("the server histogram");
    match &metric.data {
        MetricData::Histogram { points, .. } => points[0].clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_bucket_keeps_the_last_request_of_the_interval_with_its_ids() {
    let mut p = AggregateProcessor::new("aggregate", &AggregateConfig::default());
    // 3 ms and 4 ms share the first bucket (<= 5 ms); 60 ms is in (50, 75] ms.
    assert!(p
        .process(vec![request(3, 1), request(60, 2), request(4, 3)])
        .is_empty());
    let point = server_point(&mut p);
    assert_eq!(point.count, 3);
    let kept: Vec<_> = point
        .exemplars
        .iter()
        .map(|e| {
            (
                e.value,
                e.time_unix_nano,
                e.trace_id.as_bytes()[15],
                e.span_id.as_bytes()[7],
            )
        })
        .collect();
    assert_eq!(
        kept,
        [(0.004, 1_004_000_000, 3, 3), (0.06, 1_060_000_000, 2, 2)]
    );
    // The next collection has the counts (cumulative) and no exemplar again.
    let point = server_point(&mut p);
    assert_eq!((point.count, point.exemplars.len()), (3, 0));
    p.process(vec![request(70, 4)]);
    let point = server_point(&mut p);
    assert_eq!(point.exemplars.len(), 1);
    assert_eq!(point.exemplars[0].span_id.as_bytes()[7], 4);
}

#[test]
fn no_exemplars_when_turned_off() {
    let config = AggregateConfig {
        exemplars: false,
        ..AggregateConfig::default()
    };
    let mut p = AggregateProcessor::new("aggregate", &config);
    p.process(vec![request(3, 1)]);
    let point = server_point(&mut p);
    assert_eq!((point.count, point.exemplars.len()), (1, 0));
}
