//! Whole-file tests: the table over `testdata/config/*.yaml`, the `to_yaml` round trip,
//! and the public API's edges.
//!
//! Each testdata file starts with comment lines: `# expect: ok | invalid | parse-error`,
//! then one `# error: <substring>` per expected error. `parse-error` means substitution or
//! YAML syntax failed (nothing past that ran); `invalid` means the YAML read but the
//! config is wrong. The test asserts every listed substring appears in some error line
//! and that the number of errors equals the number of `# error:` lines.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::load::parse_document;
use crate::config::{
    load_file, parse_str, ComponentId, Config, ConfigError, ConfigErrors, ExporterConfig,
    PipelineId, ProcessorConfig, SourceConfig,
};

/// The environment the testdata files see.
fn test_env(name: &str) -> Option<String> {
    match name {
        "KOTEL_TEST_RING_BYTES" => Some("524288".into()),
        _ => None,
    }
}

fn testdata() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// What a testdata file's header expects.
struct Expectation {
    outcome: String,
    errors: Vec<String>,
}

fn expectation(text: &str) -> Result<Expectation, String> {
    let mut outcome = None;
    let mut errors = Vec::new();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(v) = line.strip_prefix("# expect:") {
            outcome = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("# error:") {
            errors.push(v.trim().to_string());
        }
    }
    let outcome = outcome.ok_or("no `# expect:` line in the header")?;
    match outcome.as_str() {
        "ok" if errors.is_empty() => {}
        "ok" => return Err("`# expect: ok` with `# error:` lines".into()),
        "invalid" | "parse-error" if !errors.is_empty() => {}
        "invalid" | "parse-error" => return Err("an error outcome needs `# error:` lines".into()),
        other => return Err(format!("unknown outcome {other:?}")),
    }
    Ok(Expectation { outcome, errors })
}

/// Checks one file; `Err` says what did not match.
fn check_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let expected = expectation(&text)?;
    let result = parse_str(&text, &test_env);
    match (expected.outcome.as_str(), result) {
        ("ok", Ok(config)) => check_round_trip(&config),
        ("ok", Err(errors)) => Err(format!("expected ok, got:\n{errors}")),
        (_, Ok(_)) => Err("expected errors, got a config".into()),
        (outcome, Err(errors)) => {
            let stopped_early = parse_document(&text, &test_env).is_err();
            if stopped_early != (outcome == "parse-error") {
                return Err(format!(
                    "expected {outcome}, but stopped_early = {stopped_early}:\n{errors}"
                ));
            }
            let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            let missing: Vec<&String> = expected
                .errors
                .iter()
                .filter(|want| !lines.iter().any(|l| l.contains(want.as_str())))
                .collect();
            if !missing.is_empty() || lines.len() != expected.errors.len() {
                return Err(format!(
                    "expected {} errors, got {}; missing {missing:?}; got:\n{errors}",
                    expected.errors.len(),
                    lines.len()
                ));
            }
            Ok(())
        }
    }
}

fn check_round_trip(config: &Config) -> Result<(), String> {
    let yaml = config.to_yaml();
    match parse_str(&yaml, &|_| None) {
        Ok(again) if &again == config => Ok(()),
        Ok(again) => Err(format!(
            "round trip changed the config:\n{yaml}\n{config:#?}\n{again:#?}"
        )),
        Err(errors) => Err(format!("to_yaml output does not load:\n{yaml}\n{errors}")),
    }
}

#[test]
fn testdata_files_give_the_expected_outcome() {
    let files = testdata();
    assert!(
        files.len() >= 15,
        "testdata/config has only {} files",
        files.len()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            check_file(path)
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

fn id(text: &str) -> ComponentId {
    text.parse().unwrap()
}

fn load_testdata(name: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/config")
        .join(name);
    parse_str(&std::fs::read_to_string(path).unwrap(), &test_env).unwrap()
}

#[test]
fn full_file_substitutes_and_fills_defaults() {
    let config = load_testdata("ok-full.yaml");
    let SourceConfig::Tcp(fast) = &config.sources[&id("tcp/fast")] else {
        panic!("tcp/fast is not tcp")
    };
    assert_eq!(fast.ring_buffer_bytes, 524_288);
    assert_eq!(fast.batch_timeout, Duration::from_millis(50));
    let SourceConfig::Replay(replay) = &config.sources[&id("replay")] else {
        panic!("replay is not replay")
    };
    assert_eq!(replay.path, Path::new("/var/lib/kotel/cost-$5.jsonl"));
    assert!(matches!(
        config.processors[&id("filter")],
        ProcessorConfig::Filter(_)
    ));
    assert!(matches!(
        config.exporters[&id("debug/verbose")],
        ExporterConfig::Debug(_)
    ));
    let net: PipelineId = "metrics/net".parse().unwrap();
    assert_eq!(
        config.pipelines[&net].exporters,
        [id("debug"), id("debug/verbose")]
    );
    assert_eq!(config.pipelines.len(), 3);
    assert_eq!(config.runtime.channel_capacity, 128);
    assert_eq!(config.runtime.restart_backoff_max, Duration::from_secs(120));
    assert_eq!(config.telemetry.interval, Duration::from_secs(60));
}

#[test]
fn to_yaml_has_the_input_shape_with_defaults_and_escaped_dollars() {
    let yaml = load_testdata("ok-full.yaml").to_yaml();
    let value: yaml_serde::Value = yaml_serde::from_str(&yaml).unwrap();
    assert_eq!(
        value["sources"]["tcp"]["batch_max_events"].as_u64(),
        Some(512),
        "{yaml}"
    );
    assert_eq!(
        value["sources"]["tcp/fast"]["batch_timeout"].as_str(),
        Some("50ms"),
        "{yaml}"
    );
    assert_eq!(
        value["sources"]["replay"]["path"].as_str(),
        Some("/var/lib/kotel/cost-$$5.jsonl"),
        "{yaml}"
    );
    assert!(value["exporters"]["debug/verbose"].is_mapping(), "{yaml}");
    assert_eq!(
        value["pipelines"]["metrics/net"]["sources"][1].as_str(),
        Some("replay"),
        "{yaml}"
    );
    assert_eq!(
        value["runtime"]["when_full"].as_str(),
        Some("block"),
        "{yaml}"
    );
    assert!(!yaml.contains('!'), "no YAML tags in the output:\n{yaml}");
}

#[test]
fn kinds_match_the_enum_variants() {
    fn check<T: serde::de::DeserializeOwned>(kinds: &[&str], kind_of: fn(&T) -> &'static str) {
        for kind in kinds {
            let config: T = yaml_serde::from_str(&format!("!{kind} {{}}")).unwrap_or_else(|e| {
                panic!("KINDS lists {kind:?} but the enum does not read it: {e}")
            });
            assert_eq!(kind_of(&config), *kind);
        }
        // serde lists every variant when one is unknown; KINDS must list the same ones.
        let listed = match kinds {
            [one] => format!("`{one}`"),
            [a, b] => format!("`{a}` or `{b}`"),
            many => format!(
                "one of {}",
                many.iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let error = yaml_serde::from_str::<T>("!no_such_kind {}")
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains(&format!("expected {listed}")),
            "KINDS {kinds:?} vs serde: {error}"
        );
    }
    check::<SourceConfig>(SourceConfig::KINDS, SourceConfig::kind);
    check::<ProcessorConfig>(ProcessorConfig::KINDS, ProcessorConfig::kind);
    check::<ExporterConfig>(ExporterConfig::KINDS, ExporterConfig::kind);
}

#[test]
fn load_file_reads_a_file_and_reports_a_missing_one_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, "sources: {tcp: {}}\nexporters: {debug: {}}\npipelines: {logs: {sources: [tcp], exporters: [debug]}}\n").unwrap();
    let config = load_file(&path).unwrap();
    assert_eq!(config.sources.len(), 1);

    let missing = dir.path().join("nope.yaml");
    let errors = load_file(&missing).unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert_eq!(errors.0[0].path, missing.display().to_string());
    assert!(
        errors.0[0]
            .message
            .starts_with("cannot read the pipeline file: "),
        "{errors}"
    );
}

#[test]
fn errors_display_one_per_line_as_path_colon_message() {
    let errors = ConfigErrors(vec![
        ConfigError::new("sources::tcp", "first"),
        ConfigError::new("", "line 3: second"),
    ]);
    assert_eq!(errors.to_string(), "sources::tcp: first\nline 3: second");
}

#[test]
fn empty_or_non_map_documents_are_errors() {
    let errors = parse_str("", &|_| None).unwrap_err();
    assert_eq!(errors.to_string(), "pipelines: no pipeline is configured; add one, e.g. `metrics: {sources: [tcp], exporters: [debug]}`");
    let errors = parse_str("- tcp\n", &|_| None).unwrap_err();
    assert!(
        errors.0[0]
            .message
            .starts_with("the file must be a map of sections"),
        "{errors}"
    );
    let errors = parse_str("sources: [tcp]\npipelines: 3\n", &|_| None).unwrap_err();
    assert_eq!(
        errors.to_string(),
        "sources: expected a map from source id to its settings, not a list\n\
         pipelines: expected a map from pipeline id to pipeline, not a number"
    );
}
