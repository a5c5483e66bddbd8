//! Reading a pipeline file: `${env:...}` substitution, YAML, then each section and each
//! component on its own, so that one bad part never hides another; then validation.

use std::path::Path;
use std::str::FromStr;

use serde::de::DeserializeOwned;
use yaml_serde::{Mapping, Value};

use crate::config::decode::{decode, describe};
use crate::config::draft::{Draft, DraftPipeline, Section};
use crate::config::schema::Config;
use crate::config::{env, validate, ExporterConfig, ProcessorConfig, SourceConfig};
use crate::settings::error::{join, ConfigError, ConfigErrors};
use crate::settings::id::{ComponentId, PipelineId};

/// The keys a pipeline file may have at the top.
pub(crate) const TOP_LEVEL_KEYS: &[&str] = &[
    "sources",
    "processors",
    "exporters",
    "pipelines",
    "runtime",
    "telemetry",
];

/// The keys a pipeline may have.
pub(crate) const PIPELINE_KEYS: &[&str] = &["sources", "processors", "exporters"];

/// Reads, substitutes (from the process environment), parses and validates the file at
/// `path`. A file that cannot be read gives one error whose path is the file's path.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            path.display().to_string(),
            format!("cannot read the pipeline file: {e}"),
        )
    })?;
    parse_str(&text, &|name| {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    })
}

/// Substitutes `${env:...}` in `text` (looking variables up with `env`), parses it as YAML
/// and builds a validated [`Config`] with all defaults filled in.
///
/// Substitution or YAML syntax errors stop there (the text is not usable); otherwise every
/// problem in every section is reported together.
pub fn parse_str(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigErrors> {
    let document = parse_document(text, env)?;
    let (draft, mut errors) = read_draft(&document);
    errors.extend(validate::check(&draft));
    if errors.is_empty() {
        Ok(draft.into_config())
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Stage one: substitution and YAML syntax (merge keys `<<` applied).
pub(crate) fn parse_document(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, ConfigErrors> {
    let text = env::substitute(text, env)?;
    let mut document: Value = yaml_serde::from_str(&text)
        .map_err(|e| ConfigError::new("", format!("the file is not valid YAML: {e}")))?;
    document
        .apply_merge()
        .map_err(|e| ConfigError::new("", format!("the file is not valid YAML: {e}")))?;
    Ok(document)
}

/// Stage two: every section read on its own; what did not read is reported and left out.
pub(crate) fn read_draft(document: &Value) -> (Draft, Vec<ConfigError>) {
    let mut errors = Vec::new();
    let empty = Mapping::new();
    let top = match document {
        Value::Null => &empty,
        Value::Mapping(map) => map,
        other => {
            errors.push(ConfigError::new(
                "",
                format!(
                    "the file must be a map of sections ({}), not {}",
                    TOP_LEVEL_KEYS.join(", "),
                    describe(other)
                ),
            ));
            &empty
        }
    };
    for key in top.keys() {
        if !key.as_str().is_some_and(|k| TOP_LEVEL_KEYS.contains(&k)) {
            errors.push(unknown_key("", key, TOP_LEVEL_KEYS));
        }
    }
    let mut draft = Draft {
        sources: read_components(
            top.get("sources"),
            "sources",
            "source",
            SourceConfig::KINDS,
            &mut errors,
        ),
        processors: read_components(
            top.get("processors"),
            "processors",
            "processor",
            ProcessorConfig::KINDS,
            &mut errors,
        ),
        exporters: read_components(
            top.get("exporters"),
            "exporters",
            "exporter",
            ExporterConfig::KINDS,
            &mut errors,
        ),
        pipelines_complete: true,
        ..Draft::default()
    };
    read_pipelines(top.get("pipelines"), &mut draft, &mut errors);
    draft.runtime = read_plain(top.get("runtime"), "runtime", &mut errors);
    draft.telemetry = read_plain(top.get("telemetry"), "telemetry", &mut errors);
    (draft, errors)
}

/// `key: unknown key; expected one of ...` at `parent::key`.
fn unknown_key(parent: &str, key: &Value, expected: &[&str]) -> ConfigError {
    ConfigError::new(
        join(parent, &key_text(key)),
        format!("unknown key; expected one of {}", expected.join(", ")),
    )
}

/// A mapping key as the user wrote it, for paths and messages.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => yaml_serde::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default(),
    }
}

/// One component section: a map from `type[/name]` to that type's settings.
fn read_components<T: DeserializeOwned>(
    value: Option<&Value>,
    section: &str,
    role: &str,
    kinds: &[&str],
    errors: &mut Vec<ConfigError>,
) -> Section<T> {
    let mut out = Section::default();
    let map = match value {
        None | Some(Value::Null) => return out,
        Some(Value::Mapping(map)) => map,
        Some(other) => {
            errors.push(ConfigError::new(
                section,
                format!(
                    "expected a map from {role} id to its settings, not {}",
                    describe(other)
                ),
            ));
            return out;
        }
    };
    for (key, settings) in map {
        let id = match parse_id::<ComponentId>(key) {
            Ok(id) => id,
            Err(message) => {
                errors.push(ConfigError::new(section, message));
                continue;
            }
        };
        let path = format!("{section}::{id}");
        out.configured.insert(id.clone());
        if !kinds.contains(&id.kind()) {
            errors.push(ConfigError::new(
                path,
                format!(
                    "unknown {role} type \"{}\"; known types: {}",
                    id.kind(),
                    kinds.join(", ")
                ),
            ));
            continue;
        }
        match decode::<T>(settings, Some(id.kind())) {
            Ok(config) => {
                out.parsed.insert(id, config);
            }
            Err(e) => errors.push(e.under(&path)),
        }
    }
    out
}

/// An id from a mapping key or list item, or the message saying why it is not one.
fn parse_id<T: FromStr>(value: &Value) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    match value {
        Value::String(s) => s.parse().map_err(|e: T::Err| e.to_string()),
        other => Err(format!(
            "expected an id (a string), not {}: {}",
            describe(other),
            key_text(other)
        )),
    }
}

/// `pipelines`: a map from `signal[/name]` to the three lists.
fn read_pipelines(value: Option<&Value>, draft: &mut Draft, errors: &mut Vec<ConfigError>) {
    let map = match value {
        None | Some(Value::Null) => return,
        Some(Value::Mapping(map)) => map,
        Some(other) => {
            errors.push(ConfigError::new(
                "pipelines",
                format!(
                    "expected a map from pipeline id to pipeline, not {}",
                    describe(other)
                ),
            ));
            draft.pipelines_complete = false;
            return;
        }
    };
    for (key, body) in map {
        let mut pipeline = DraftPipeline {
            path: join("pipelines", &key_text(key)),
            id: parse_id::<PipelineId>(key)
                .map_err(|m| errors.push(ConfigError::new("pipelines", m)))
                .ok(),
            ..DraftPipeline::default()
        };
        let lists = match body {
            Value::Null => None,
            Value::Mapping(lists) => Some(lists),
            other => {
                errors.push(ConfigError::new(
                    &pipeline.path,
                    format!(
                        "expected a map with {}, not {}",
                        PIPELINE_KEYS.join(", "),
                        describe(other)
                    ),
                ));
                draft.pipelines_complete = false;
                None
            }
        };
        for (name, list) in lists.into_iter().flatten() {
            let target = match name.as_str() {
                Some("sources") => &mut pipeline.sources,
                Some("processors") => &mut pipeline.processors,
                Some("exporters") => &mut pipeline.exporters,
                _ => {
                    errors.push(unknown_key(&pipeline.path, name, PIPELINE_KEYS));
                    continue;
                }
            };
            let path = join(&pipeline.path, &key_text(name));
            match list {
                Value::Null => {}
                Value::Sequence(items) => {
                    for item in items {
                        let id = parse_id::<ComponentId>(item);
                        if let Err(message) = &id {
                            errors.push(ConfigError::new(&path, message));
                        }
                        target.push(id.ok());
                    }
                }
                other => {
                    errors.push(ConfigError::new(
                        path,
                        format!("expected a list of component ids, not {}", describe(other)),
                    ));
                    // Something was listed, just not readably: not also "needs at least one".
                    target.push(None);
                    draft.pipelines_complete = false;
                }
            }
        }
        draft.pipelines.push(pipeline);
    }
}

/// `runtime` or `telemetry`: one struct, absent or null meaning all defaults.
fn read_plain<T: DeserializeOwned>(
    value: Option<&Value>,
    section: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    decode(value.unwrap_or(&Value::Null), None)
        .map_err(|e| errors.push(e.under(section)))
        .ok()
}
