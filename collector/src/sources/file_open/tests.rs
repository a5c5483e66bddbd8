//! Tests of the `file_open` source that need no root: construction, config checks, start-up
//! errors that happen before the kernel is touched.

use std::time::Duration;

use kotel_common::file_open::{MAX_PREFIXES, MAX_PREFIX_LEN, PATH_MAX_BYTES};

use super::{prefix_key, FileOpenSource, FileOpenSourceConfig};
use crate::component::{ComponentError, Shutdown, Source, SourceOutput};
use crate::settings::ComponentId;

fn with_paths(paths: &[&str]) -> FileOpenSourceConfig {
    FileOpenSourceConfig {
        paths: paths.iter().map(|p| p.to_string()).collect(),
        ..FileOpenSourceConfig::default()
    }
}

fn fields(config: &FileOpenSourceConfig) -> Vec<String> {
    config.validate().into_iter().map(|e| e.path).collect()
}

#[test]
fn new_touches_nothing_and_keeps_the_id() {
    let id: ComponentId = "file_open/secrets".parse().unwrap();
    let source = FileOpenSource::new(&id, &FileOpenSourceConfig::default());
    assert_eq!(source.id().to_string(), "file_open/secrets");
}

#[test]
fn watched_paths_are_valid() {
    let config = with_paths(&["/etc/shadow", "/var/run/secrets/", "/root/.ssh", "/a"]);
    assert_eq!(
        config.validate(),
        Vec::<crate::settings::ConfigError>::new()
    );
    let longest = format!("/{}", "a".repeat(MAX_PREFIX_LEN - 1));
    assert!(with_paths(&[&longest]).validate().is_empty());
}

#[test]
fn an_empty_list_is_invalid_and_is_the_default() {
    let problems = FileOpenSourceConfig::default().validate();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "paths");
    assert!(problems[0].message.contains("at least one"), "{problems:?}");
}

#[test]
fn bad_paths_are_named_by_index() {
    let too_long = format!("/{}", "a".repeat(MAX_PREFIX_LEN));
    let config = with_paths(&["/etc/shadow", "etc/passwd", "", &too_long, "/a\0b", "//"]);
    let problems = config.validate();
    assert_eq!(
        fields(&config),
        ["paths[1]", "paths[2]", "paths[3]", "paths[4]", "paths[5]"]
    );
    assert!(problems[0].message.contains("not absolute"), "{problems:?}");
    assert!(problems[2].message.contains("at most 255"), "{problems:?}");
    assert!(problems[3].message.contains("NUL"), "{problems:?}");
    assert!(problems[4].message.contains("every open"), "{problems:?}");
}

#[test]
fn too_many_paths_are_invalid() {
    let many: Vec<String> = (0..=MAX_PREFIXES).map(|i| format!("/p{i}")).collect();
    let config = FileOpenSourceConfig {
        paths: many,
        ..FileOpenSourceConfig::default()
    };
    assert_eq!(fields(&config), ["paths"]);
}

#[test]
fn validation_names_every_bad_field() {
    let config = FileOpenSourceConfig {
        paths: vec!["/etc/shadow".into()],
        host_root: Default::default(),
        rescan_interval: Duration::from_millis(10),
        ring_buffer_bytes: 5000,
        batch_max_events: 0,
        batch_timeout: Duration::ZERO,
        wakeup_bytes: 8192,
        filter: yaml_serde::from_str("exclude: { ports: [80] }").unwrap(),
    };
    assert_eq!(
        fields(&config),
        [
            "rescan_interval",
            "ring_buffer_bytes",
            "batch_max_events",
            "batch_timeout",
            "wakeup_bytes",
            "filter::exclude::ports"
        ]
    );
}

#[test]
fn yaml_uses_defaults_and_rejects_unknown_keys() {
    let config: FileOpenSourceConfig = yaml_serde::from_str(
        "paths: [/etc/shadow, /var/run/secrets/]\nfilter: { exclude: { comms: [sshd] } }",
    )
    .unwrap();
    assert_eq!(config.paths, ["/etc/shadow", "/var/run/secrets/"]);
    assert_eq!(
        config.wakeup_bytes,
        FileOpenSourceConfig::default().wakeup_bytes
    );
    assert!(config.validate().is_empty());
    assert!(yaml_serde::from_str::<FileOpenSourceConfig>("path: [/etc]").is_err());
}

#[test]
fn prefix_keys_are_bits_and_zero_padded_bytes() {
    let key = prefix_key("/etc/");
    assert_eq!(key.prefix_len(), 40);
    let data = key.data();
    assert_eq!(&data[..6], b"/etc/\0");
    assert!(data[5..].iter().all(|&b| b == 0));
    assert_eq!(data.len(), PATH_MAX_BYTES);
}

#[tokio::test]
async fn invalid_config_fails_at_startup_before_the_kernel() {
    let id: ComponentId = "file_open".parse().unwrap();
    let (out, _rx) = SourceOutput::for_test(4);
    let err = Box::new(FileOpenSource::new(&id, &with_paths(&["relative"])))
        .run(out, Shutdown::never())
        .await
        .unwrap_err();
    match err {
        ComponentError::Startup(msg) => assert!(msg.contains("paths[0]"), "{msg}"),
        other => panic!("expected a start-up error, got {other:?}"),
    }
}

#[test]
fn mount_namespaces_are_found_under_the_host_root() {
    let mut config = with_paths(&["/etc/shadow"]);
    assert_eq!(config.proc_dir(), std::path::PathBuf::from("/proc"));
    config.host_root = "/host".into();
    assert_eq!(config.proc_dir(), std::path::PathBuf::from("/host/proc"));
}

#[test]
fn the_object_carries_the_kfunc_placeholder() {
    let object = super::plan::object_bytes();
    if object.is_empty() {
        return; // AYA_BUILD_SKIP=1: no kernel object in this build
    }
    assert!(
        crate::kernel::kfunc::patch(object, None).1 > 0,
        "no bpf_rdonly_cast placeholder"
    );
}
