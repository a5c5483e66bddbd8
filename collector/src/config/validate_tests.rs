use super::*;

fn id(text: &str) -> ComponentId {
    text.parse().unwrap()
}

#[test]
fn signal_fits() {
    assert_eq!(
        signal_mismatch(
            "source",
            &id("tcp"),
            &[Signal::Metrics, Signal::Logs],
            Signal::Logs
        ),
        None
    );
    assert_eq!(
        signal_mismatch("exporter", &id("prom"), &[Signal::Metrics], Signal::Metrics),
        None
    );
}

#[test]
fn signal_mismatch_names_role_id_and_signals() {
    assert_eq!(
        signal_mismatch(
            "exporter",
            &id("prometheus/x"),
            &[Signal::Metrics],
            Signal::Logs
        )
        .unwrap(),
        "exporter \"prometheus/x\" cannot be in a logs pipeline: it supports metrics only"
    );
    assert_eq!(
        signal_mismatch("source", &id("file_open"), &[Signal::Logs], Signal::Metrics).unwrap(),
        "source \"file_open\" cannot be in a metrics pipeline: it supports logs only"
    );
    assert_eq!(
        signal_mismatch("processor", &id("odd"), &[], Signal::Metrics).unwrap(),
        "processor \"odd\" cannot be in a metrics pipeline: it supports no signal"
    );
}

#[test]
fn runtime_defaults_pass_and_bad_values_each_report() {
    let mut errors = Vec::new();
    check_runtime(&RuntimeConfig::default(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let bad = RuntimeConfig {
        channel_capacity: 0,
        shutdown_timeout: Duration::ZERO,
        restart_backoff_initial: Duration::from_secs(120),
        restart_backoff_max: Duration::from_secs(60),
        reload_interval: Duration::from_millis(10),
        ..RuntimeConfig::default()
    };
    check_runtime(&bad, &mut errors);
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "runtime::channel_capacity: must be 1 to 65536 (batches)",
            "runtime::shutdown_timeout: must be longer than 0s",
            "runtime::reload_interval: 10ms is shorter than 100ms (0s checks only on SIGHUP)",
            "runtime::restart_backoff_initial: 2m is longer than restart_backoff_max (1m)",
        ]
    );
}
