//! Exemplars on the scrape: OpenMetrics text and protobuf buckets carry them, the plain
//! text format does not, and a bucket keeps its exemplar until a newer one comes.

use std::time::Instant;

use prost::Message;

use super::state::{ScrapeState, SeriesValue};
use super::tests::{batch, exemplar, telemetry};
use super::text::{render, Format};
use super::*;
use crate::event::{MetricData, Temporality};

const LE_05: &str = "tcp_connection_duration_seconds_bucket{k8s_pod_name=\"web\",le=\"0.5\"} 2";

fn scrape(state: &ScrapeState, format: Format) -> String {
    render(state, &telemetry(), &[], format)
}

fn state_with(batches: &[crate::event::MetricBatch]) -> ScrapeState {
    let mut state = ScrapeState::default();
    for b in batches {
        state.merge(b, Instant::now());
    }
    state
}

/// `batch` with the duration histogram's exemplars replaced by `exemplars`.
fn with_exemplars(
    temporality: Temporality,
    exemplars: Vec<crate::event::Exemplar>,
) -> crate::event::MetricBatch {
    let mut b = batch(temporality, &[("web", 1)]);
    for m in &mut b.metrics {
        if let MetricData::Histogram { points, .. } = &mut m.data {
            points[0].exemplars = exemplars.clone();
        }
    }
    b
}

fn duration_exemplars(state: &ScrapeState) -> Vec<(f64, u8)> {
    match &state.families["tcp.connection.duration"]
        .series
        .values()
        .next()
        .unwrap()
        .0
    {
        SeriesValue::Buckets { exemplars, .. } => exemplars
            .iter()
            .map(|e| (e.value, e.span_id.0[7]))
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn openmetrics_buckets_carry_their_exemplar_and_plain_text_does_not() {
    let state = state_with(&[batch(Temporality::Cumulative, &[("web", 1)])]);
    let open = scrape(&state, Format::OpenMetrics);
    let line = open
        .lines()
        .find(|l| l.starts_with(LE_05))
        .unwrap_or_else(|| panic!("no le=0.5 bucket in:\n{open}"));
    assert_eq!(
        line,
        format!(
            "{LE_05} # {{trace_id=\"ababababababababababababababab07\",span_id=\"0000000000000007\"}} 0.3 1700000000.500000000"
        )
    );
    // Only the bucket holding the value has one.
    assert_eq!(open.matches(" # {trace_id=").count(), 1, "{open}");
    let text = scrape(&state, Format::Text);
    assert!(text.contains(&format!("{LE_05}\n")), "{text}");
    assert!(!text.contains("trace_id"), "{text}");
}

#[test]
fn protobuf_buckets_carry_their_exemplar() {
    let state = state_with(&[batch(Temporality::Cumulative, &[("web", 1)])]);
    let body = super::protobuf::render(&state, &telemetry(), &[]);
    let mut rest = body.as_slice();
    let mut buckets = Vec::new();
    while !rest.is_empty() {
        let family = protobuf::MetricFamily::decode_length_delimited(&mut rest).unwrap();
        if family.name.as_deref() == Some("tcp_connection_duration_seconds") {
            buckets = family.metric[0].histogram.clone().unwrap().bucket;
        }
    }
    let with: Vec<_> = buckets.iter().filter(|b| b.exemplar.is_some()).collect();
    assert_eq!(with.len(), 1, "{buckets:?}");
    assert_eq!(with[0].upper_bound, Some(0.5));
    let e = with[0].exemplar.as_ref().unwrap();
    let labels: Vec<_> = e
        .label
        .iter()
        .map(|l| (l.name.clone().unwrap(), l.value.clone().unwrap()))
        .collect();
    assert_eq!(
        labels,
        [
            ("trace_id".into(), "ababababababababababababababab07".into()),
            ("span_id".into(), "0000000000000007".into())
        ]
    );
    assert_eq!(e.value, Some(0.3));
    let at = e.timestamp.as_ref().unwrap();
    assert_eq!((at.seconds, at.nanos), (1_700_000_000, 500_000_000));
}

#[test]
fn a_bucket_keeps_its_exemplar_until_a_newer_one_of_that_bucket_comes() {
    for temporality in [Temporality::Cumulative, Temporality::Delta] {
        // A later collection without exemplars keeps the earlier one.
        let state = state_with(&[
            with_exemplars(temporality, vec![exemplar(0.3, 1)]),
            with_exemplars(temporality, vec![]),
        ]);
        assert_eq!(duration_exemplars(&state), [(0.3, 1)], "{temporality:?}");
        // A newer one replaces it in its bucket only.
        let state = state_with(&[
            with_exemplars(temporality, vec![exemplar(0.05, 1), exemplar(0.3, 2)]),
            with_exemplars(temporality, vec![exemplar(0.4, 3)]),
        ]);
        let mut kept = duration_exemplars(&state);
        kept.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(kept, [(0.05, 1), (0.4, 3)], "{temporality:?}");
    }
}
