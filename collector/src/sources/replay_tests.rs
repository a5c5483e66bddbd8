use super::*;
use crate::event::samples::tcp_event;
use crate::telemetry;

fn bad_lines(id: &str, reason: &str) -> f64 {
    telemetry::snapshot().counter_sum(
        names::DECODE_ERRORS,
        &[("source", id), (names::REASON, reason)],
    )
}

#[tokio::test]
async fn bad_utf8_and_over_long_lines_are_counted_and_skipped_not_fatal() {
    telemetry::install();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    let good = serde_json::to_string(&tcp_event(1)).unwrap();
    let mut bytes = format!("{good}\n").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe not utf-8\n");
    bytes.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
    bytes.extend_from_slice(format!("\n\n{good}").as_bytes()); // last line without newline
    std::fs::write(&path, bytes).unwrap();

    let id: ComponentId = "replay/mixed".parse().unwrap();
    let config = ReplaySourceConfig {
        path,
        ..Default::default()
    };
    let (out, mut rx) = SourceOutput::for_test(8);
    let result = Box::new(ReplaySource::new(&id, &config))
        .run(out, Shutdown::never())
        .await;
    assert!(result.is_ok(), "{result:?}");
    let mut events = Vec::new();
    while let Ok(batch) = rx.try_recv() {
        events.extend(batch);
    }
    assert_eq!(events, vec![tcp_event(1), tcp_event(1)]);
    assert_eq!(bad_lines("replay/mixed", "invalid_json"), 1.0);
    assert_eq!(bad_lines("replay/mixed", "line_too_long"), 1.0);
}

#[tokio::test]
async fn shutdown_stops_a_long_replay_between_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.jsonl");
    std::fs::write(
        &path,
        format!("{}\n", serde_json::to_string(&tcp_event(2)).unwrap()),
    )
    .unwrap();
    let id: ComponentId = "replay/endless".parse().unwrap();
    let config = ReplaySourceConfig {
        path,
        repeat: u32::MAX,
        ..Default::default()
    };
    let (out, mut rx) = SourceOutput::for_test(1024);
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task =
        tokio::spawn(Box::new(ReplaySource::new(&id, &config)).run(out, Shutdown::new(stop_rx)));
    let _ = rx.recv().await; // it is running
    stop.send(true).unwrap();
    let finished = tokio::time::timeout(std::time::Duration::from_secs(2), task).await;
    assert!(matches!(finished, Ok(Ok(Ok(())))), "{finished:?}");
}
