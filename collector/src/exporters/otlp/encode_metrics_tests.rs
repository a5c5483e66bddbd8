use std::sync::Arc;

use opentelemetry_proto::tonic::metrics::v1::exemplar::Value as ExemplarValue;

use super::*;
use crate::event::{Exemplar, PointHeader, SpanId, TraceId};

#[test]
fn histogram_exemplars_carry_the_value_time_and_ids_as_bytes() {
    let batch = MetricBatch {
        time_unix_nano: 2,
        metrics: vec![Metric {
            name: "http.server.request.duration".into(),
            description: String::new(),
            unit: "s".into(),
            data: MetricData::Histogram {
                temporality: Temporality::Cumulative,
                points: vec![HistogramPoint {
                    header: PointHeader {
                        attributes: Arc::from([]),
                        start_time_unix_nano: 1,
                        time_unix_nano: 2,
                    },
                    count: 1,
                    sum: 0.06,
                    bounds: Arc::from([0.05, 0.075]),
                    bucket_counts: vec![0, 1, 0],
                    exemplars: vec![Exemplar {
                        value: 0.06,
                        time_unix_nano: 1_500,
                        trace_id: TraceId::from_bytes([7; 16]),
                        span_id: SpanId::from_bytes([9; 8]),
                    }],
                }],
            },
        }],
    };
    let request = metrics_request(&Resource::default(), &[&batch], &[]);
    let metric = &request.resource_metrics[0].scope_metrics[0].metrics[0];
    let Some(otlp::metric::Data::Histogram(h)) = &metric.data else {
        panic!("{metric:?}");
    };
    let e = &h.data_points[0].exemplars[..];
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].trace_id.as_slice(), e[0].span_id.as_slice()),
        (&[7u8; 16][..], &[9u8; 8][..])
    );
    assert_eq!(e[0].time_unix_nano, 1_500);
    assert_eq!(e[0].value, Some(ExemplarValue::AsDouble(0.06)));
}
