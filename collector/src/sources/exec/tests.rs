//! Tests of the `exec` source that need no root: construction, config checks, BTF offsets,
//! and start-up errors that happen before the kernel is touched.

use std::time::Duration;

use super::{task_offsets_from, wakeup_policy, ExecSource, ExecSourceConfig};
use crate::component::{ComponentError, Shutdown, Source, SourceOutput};
use crate::kernel::btf::{Btf, BtfError, VMLINUX};
use crate::settings::ComponentId;

#[test]
fn new_touches_nothing_and_keeps_the_id() {
    let id: ComponentId = "exec/audit".parse().unwrap();
    let source = ExecSource::new(&id, &ExecSourceConfig::default());
    assert_eq!(source.id().to_string(), "exec/audit");
}

#[test]
fn default_config_is_valid_and_fields_default_when_absent() {
    assert!(ExecSourceConfig::default().validate().is_empty());
    let config: ExecSourceConfig = yaml_serde::from_str("batch_timeout: 50ms").unwrap();
    assert_eq!(config.batch_timeout, Duration::from_millis(50));
    assert_eq!(
        config.ring_buffer_bytes,
        ExecSourceConfig::default().ring_buffer_bytes
    );
    assert!(yaml_serde::from_str::<ExecSourceConfig>("argv_bytes: 10").is_err());
    assert!(yaml_serde::from_str::<ExecSourceConfig>("hook: kprobe").is_err());
    let config: ExecSourceConfig = yaml_serde::from_str("hook: tracepoint").unwrap();
    assert_eq!(config.hook, super::HookChoice::Tracepoint);
}

#[test]
fn validation_names_every_bad_field() {
    let config = ExecSourceConfig {
        ring_buffer_bytes: 8192,
        batch_max_events: 0,
        batch_timeout: Duration::ZERO,
        wakeup_events: 4,
        hook: yaml_serde::from_str("tp_btf").unwrap(),
        filter: yaml_serde::from_str("exclude: { ports: [80], comms: [\"\"] }").unwrap(),
    };
    let fields: Vec<String> = config.validate().into_iter().map(|e| e.path).collect();
    assert_eq!(
        fields,
        [
            "ring_buffer_bytes",
            "batch_max_events",
            "batch_timeout",
            "wakeup_events",
            "filter::exclude::ports",
            "filter::exclude::comms",
        ]
    );
}

#[tokio::test]
async fn invalid_config_fails_at_startup_before_the_kernel() {
    let id: ComponentId = "exec".parse().unwrap();
    let config = ExecSourceConfig {
        ring_buffer_bytes: 1000,
        ..ExecSourceConfig::default()
    };
    let (out, _rx) = SourceOutput::for_test(4);
    let err = Box::new(ExecSource::new(&id, &config))
        .run(out, Shutdown::never())
        .await
        .unwrap_err();
    match err {
        ComponentError::Startup(msg) => assert!(msg.contains("ring_buffer_bytes"), "{msg}"),
        other => panic!("expected a start-up error, got {other:?}"),
    }
}

#[test]
fn offsets_come_from_btf_or_fail_cleanly() {
    let missing = Err(BtfError::Malformed("test"));
    assert_eq!(task_offsets_from(missing), Err(BtfError::Malformed("test")));
    if !std::path::Path::new(VMLINUX).exists() {
        return eprintln!("no {VMLINUX}: the running kernel's offsets are not checked");
    }
    let o = task_offsets_from(Btf::from_sys_fs().as_ref().map_err(Clone::clone)).unwrap();
    assert_eq!(o.valid, 1);
    assert!(
        o.task_real_parent > 0 && o.task_tgid > 0 && o.task_mm > 0,
        "{o:?}"
    );
    assert_eq!(
        o.mm_arg_end,
        o.mm_arg_start + 8,
        "arg_end follows arg_start: {o:?}"
    );
}

#[test]
fn the_wakeup_policy_leaves_room_for_what_cpus_submit_unchecked() {
    let policy = |wakeup_events, ring_buffer_bytes, cpus| {
        let config = ExecSourceConfig {
            wakeup_events,
            ring_buffer_bytes,
            ..ExecSourceConfig::default()
        };
        let w = wakeup_policy(&config, cpus);
        (w.bytes, w.check_every)
    };
    // 4 MiB holds 805 records: 128 + 2 CPUs x 16 fit.
    assert_eq!(policy(128, 4 << 20, 2), (128 * 5208, 16));
    // 64 CPUs: (805 - 128) / 64 = 10 records each between checks.
    assert_eq!(policy(128, 4 << 20, 64), (128 * 5208, 10));
    // Never 0 once enabled, even without headroom.
    assert_eq!(policy(2, 16384, 64), (2 * 5208, 1));
    assert_eq!(policy(0, 4 << 20, 2), (0, 0), "0 wakes on every record");
}
