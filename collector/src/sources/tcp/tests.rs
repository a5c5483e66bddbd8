//! Tests of the `tcp` source that need no root: construction, config checks, start-up
//! errors that happen before the kernel is touched.

use std::time::Duration;

use super::{TcpSource, TcpSourceConfig};
use crate::component::{ComponentError, Shutdown, Source, SourceOutput};
use crate::settings::ComponentId;

#[test]
fn new_touches_nothing_and_keeps_the_id() {
    let id: ComponentId = "tcp/edge".parse().unwrap();
    let source = TcpSource::new(&id, &TcpSourceConfig::default());
    assert_eq!(source.id().to_string(), "tcp/edge");
}

#[test]
fn default_config_is_valid() {
    assert_eq!(
        TcpSourceConfig::default().validate(),
        Vec::<crate::settings::ConfigError>::new()
    );
}

#[test]
fn validation_names_every_bad_field() {
    let config = TcpSourceConfig {
        ring_buffer_bytes: 5000,
        max_tracked_sockets: 0,
        batch_max_events: 0,
        batch_timeout: Duration::ZERO,
        wakeup_bytes: 8192,
        metrics_interval: Duration::from_millis(10),
        histogram_rows: 100,
        filter: yaml_serde::from_str("exclude: { ports: [80] }\ninclude: { ports: [443] }")
            .unwrap(),
        cgroup_root: "host/sys/fs/cgroup".into(),
    };
    let problems = config.validate();
    for field in [
        "cgroup_root",
        "filter::exclude::ports",
        "ring_buffer_bytes",
        "wakeup_bytes",
        "max_tracked_sockets",
        "batch_max_events",
        "batch_timeout",
        "metrics_interval",
        "histogram_rows",
    ] {
        assert!(
            problems.iter().any(|e| e.path == field),
            "{field} missing in {problems:?}"
        );
    }
}

#[test]
fn wakeup_bytes_defaults_when_absent() {
    let config: TcpSourceConfig = yaml_serde::from_str("ring_buffer_bytes: 65536").unwrap();
    assert_eq!(config.wakeup_bytes, TcpSourceConfig::default().wakeup_bytes);
    assert!(yaml_serde::from_str::<TcpSourceConfig>("wakeup: 1").is_err());
}

#[test]
fn metrics_interval_parses_as_a_duration_and_defaults_to_15s() {
    let config: TcpSourceConfig = yaml_serde::from_str("{}").unwrap();
    assert_eq!(config.metrics_interval, Duration::from_secs(15));
    let config: TcpSourceConfig =
        yaml_serde::from_str("metrics_interval: 500ms\nhistogram_rows: 4096").unwrap();
    assert_eq!(
        (config.metrics_interval, config.histogram_rows),
        (Duration::from_millis(500), 4096)
    );
    assert!(config.validate().is_empty());
    let too_short: TcpSourceConfig = yaml_serde::from_str("metrics_interval: 50ms").unwrap();
    assert_eq!(
        too_short.validate(),
        vec![crate::settings::ConfigError::new(
            "metrics_interval",
            "50ms is outside 100ms..=300s"
        )]
    );
}

#[tokio::test]
async fn invalid_config_fails_at_startup_before_the_kernel() {
    let id: ComponentId = "tcp".parse().unwrap();
    let config = TcpSourceConfig {
        ring_buffer_bytes: 1000,
        ..TcpSourceConfig::default()
    };
    let (out, _rx) = SourceOutput::for_test(4);
    let err = Box::new(TcpSource::new(&id, &config))
        .run(out, Shutdown::never())
        .await
        .unwrap_err();
    match err {
        ComponentError::Startup(msg) => assert!(msg.contains("ring_buffer_bytes"), "{msg}"),
        other => panic!("expected a start-up error, got {other:?}"),
    }
}
