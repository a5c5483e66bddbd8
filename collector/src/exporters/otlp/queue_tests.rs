use super::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

fn item(bytes: usize) -> Queued {
    Queued {
        request: Request::Logs(ExportLogsServiceRequest::default()),
        bytes,
        items: bytes as u64,
    }
}

#[test]
fn the_oldest_go_first_when_either_bound_is_reached() {
    let q = Queue::new(QueueConfig {
        max_requests: 3,
        max_bytes: 100,
    });
    for b in [10, 20, 30] {
        assert!(q.push(item(b)).is_empty());
    }
    let dropped = q.push(item(40));
    assert_eq!(
        dropped.iter().map(|d| d.bytes).collect::<Vec<_>>(),
        [10],
        "by count"
    );
    let dropped = q.push(item(50));
    assert_eq!(
        dropped.iter().map(|d| d.bytes).collect::<Vec<_>>(),
        [20, 30],
        "by bytes"
    );
    assert_eq!(q.depth(), (2, 90));
    assert_eq!(q.push(item(101)).len(), 1, "too big on its own");
    assert_eq!(q.pop().map(|i| i.bytes), Some(40));
    assert_eq!(q.depth(), (1, 50));
}
