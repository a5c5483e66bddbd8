use super::*;
use crate::telemetry;

const SOURCE: &str = "reader-test";

fn decode_errors(reason: &str) -> f64 {
    telemetry::snapshot().counter_sum(
        names::DECODE_ERRORS,
        &[("source", SOURCE), (names::REASON, reason)],
    )
}

/// Records of exactly 3 bytes decode; shorter ones are "truncated", longer "oversized".
fn decode(record: &[u8], out: &mut Vec<Event>) -> Result<(), DecodeFailure> {
    match record.len() {
        3 => {
            out.push(Event::Telemetry(Default::default()));
            Ok(())
        }
        n if n < 3 => Err(("truncated", format!("{n} bytes"))),
        n => Err(("oversized", format!("{n} bytes"))),
    }
}

#[tokio::test]
async fn bad_records_are_counted_and_skipped_and_good_ones_still_batched() {
    telemetry::install();
    let settings = ReadSettings {
        source: SOURCE.to_string(),
        batching: Batching {
            max_events: 2,
            timeout: Duration::from_millis(200),
        },
    };
    let mut batcher = Batcher::new(settings, decode);
    let (out, mut rx) = SourceOutput::for_test(8);
    let (truncated_before, oversized_before) =
        (decode_errors("truncated"), decode_errors("oversized"));

    batcher.push(b"abc", &out).await;
    batcher.push(b"ab", &out).await;
    batcher.push(b"abcd", &out).await;
    batcher.push(&[], &out).await;
    batcher.push(b"abc", &out).await; // fills the batch of two
    batcher.push(b"abc", &out).await;
    batcher.flush_if_due(&out, Duration::ZERO).await; // not due yet
    assert!(rx.try_recv().unwrap().len() == 2 && rx.try_recv().is_err());
    batcher.flush(&out).await;

    assert_eq!(rx.recv().await.unwrap().len(), 1);
    assert_eq!(batcher.bad_records, 3);
    assert_eq!(decode_errors("truncated") - truncated_before, 2.0);
    assert_eq!(decode_errors("oversized") - oversized_before, 1.0);
}
