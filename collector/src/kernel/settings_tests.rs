use super::*;

#[test]
fn each_bad_setting_is_named() {
    let fields: Vec<String> = validate_ring(5000, 4096, 0, Duration::ZERO)
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(
        fields,
        ["ring_buffer_bytes", "batch_max_events", "batch_timeout"]
    );
    assert!(validate_ring(4096, 4096, MAX_BATCH_EVENTS, Duration::from_millis(1)).is_empty());
    assert_eq!(
        validate_ring(4096, 8192, MAX_BATCH_EVENTS + 1, Duration::from_millis(1)).len(),
        2
    );
    assert!(
        validate_wakeup_bytes(4096, 4096).is_some() && validate_wakeup_bytes(0, 4096).is_none()
    );
}
