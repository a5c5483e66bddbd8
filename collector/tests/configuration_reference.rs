//! The configuration reference (`docs/configuration.md`) names every setting kotel has:
//! every field of every component type (nested ones too) and every `runtime`/`telemetry`
//! key, as `kotel print-config` writes them with their defaults. A field added to the
//! code without a line in the reference fails here.

use std::path::Path;

use serde_json::Value;

/// One of each component type, with only the fields that have no default.
const EVERY_COMPONENT: &str = "
sources:
  tcp: {}
  exec: {}
  file_open: { paths: [/etc/shadow] }
  replay: { path: /dev/null }
processors:
  k8s_cri: {}
  aggregate: {}
  filter: {}
exporters:
  debug: {}
  otlp: {}
  prometheus: {}
pipelines:
  metrics: { sources: [tcp, replay], processors: [k8s_cri, filter, aggregate], exporters: [prometheus, otlp] }
  logs: { sources: [exec, file_open], exporters: [debug] }
";

/// Maps whose keys are the user's own (attribute names, header names, metric names).
const FREE_FORM: [&str; 3] = ["headers", "resource", "histograms"];

/// Every key below `node`, as paths (`filter.include.comms`).
fn key_paths(node: &Value, prefix: &str, out: &mut Vec<String>) {
    let Value::Object(map) = node else { return };
    for (key, value) in map {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        out.push(path.clone());
        if !FREE_FORM.contains(&key.as_str()) {
            key_paths(value, &path, out);
        }
    }
}

#[test]
fn the_reference_names_every_configuration_field() {
    let config = kotel::config::parse_str(EVERY_COMPONENT, &|_| None).expect("a valid config");
    let printed: Value = yaml_serde::from_str(&config.to_yaml()).unwrap();
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md"),
    )
    .unwrap();
    let mut missing = Vec::new();
    let mut checked = 0;
    for section in ["sources", "processors", "exporters"] {
        for (component, settings) in printed[section].as_object().unwrap() {
            let mut paths = Vec::new();
            key_paths(settings, "", &mut paths);
            for path in paths {
                checked += 1;
                let key = path.rsplit('.').next().unwrap();
                if !readme.contains(&format!("`{key}`")) {
                    missing.push(format!("{section}::{component}::{path}"));
                }
            }
        }
    }
    for section in ["runtime", "telemetry"] {
        for key in printed[section].as_object().unwrap().keys() {
            checked += 1;
            if !readme.contains(&format!("`{section}.{key}`")) {
                missing.push(format!("{section}::{key}"));
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} settings found: is print-config complete?"
    );
    assert!(
        missing.is_empty(),
        "not in docs/configuration.md: {missing:#?}"
    );
}

/// The README's "Configuration" shows the shipped `pipeline.yaml` (its comments and blank
/// lines left out), so the landing page cannot drift from what `kotel run` runs.
#[test]
fn the_readme_shows_the_shipped_pipeline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let shipped = std::fs::read_to_string(root.join("pipeline.yaml")).unwrap();
    let significant: Vec<&str> = shipped
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let section = &readme[readme
        .find("## Configuration")
        .expect("a Configuration section")..];
    let block = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a yaml block under Configuration");
    assert_eq!(
        block.lines().collect::<Vec<_>>(),
        significant,
        "README.md's pipeline differs from pipeline.yaml"
    );
}
