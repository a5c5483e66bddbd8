//! The effective configuration written back as YAML, for `kotel print-config`.

use std::collections::BTreeMap;

use serde::Serialize;
use yaml_serde::Value;

use crate::config::schema::{Config, PipelineConfig};
use crate::settings::id::{ComponentId, PipelineId};
use crate::settings::{RuntimeConfig, TelemetryConfig};

/// The file's shape: component maps keyed by id, each value the type's own settings.
#[derive(Serialize)]
struct Document<'a> {
    sources: BTreeMap<&'a ComponentId, Value>,
    processors: BTreeMap<&'a ComponentId, Value>,
    exporters: BTreeMap<&'a ComponentId, Value>,
    pipelines: &'a BTreeMap<PipelineId, PipelineConfig>,
    runtime: &'a RuntimeConfig,
    telemetry: &'a TelemetryConfig,
}

impl Config {
    /// The effective configuration as YAML in the pipeline file's shape: every default
    /// written out, `${env:...}` already substituted, and each `$` written as `$$`, so that
    /// [`parse_str`](crate::config::parse_str) reads the output back to an equal `Config`.
    ///
    /// # Panics
    /// If a component's settings cannot be represented in YAML (they are plain data, so
    /// this would be a bug in that component's config type).
    pub fn to_yaml(&self) -> String {
        self.yaml(false)
    }

    /// [`Self::to_yaml`] for people to read (`kotel print-config`): the values of every
    /// exporter's `headers` (authorization tokens, API keys) are written as
    /// [`REDACTED`], so the output can be pasted into a bug report.
    pub fn to_redacted_yaml(&self) -> String {
        self.yaml(true)
    }

    fn yaml(&self, redact: bool) -> String {
        let mut exporters = settings(&self.exporters);
        if redact {
            exporters.values_mut().for_each(redact_headers);
        }
        let document = Document {
            sources: settings(&self.sources),
            processors: settings(&self.processors),
            exporters,
            pipelines: &self.pipelines,
            runtime: &self.runtime,
            telemetry: &self.telemetry,
        };
        yaml_serde::to_string(&document)
            .expect("config types serialize to YAML")
            .replace('$', "$$")
    }
}

/// What `print-config` shows instead of a header's value.
pub const REDACTED: &str = "<redacted>";

/// Replaces the values of a `headers` map in one component's settings.
fn redact_headers(settings: &mut Value) {
    if let Some(Value::Mapping(headers)) = settings.get_mut("headers") {
        for value in headers.values_mut() {
            *value = Value::String(REDACTED.into());
        }
    }
}

/// Each component's settings without the enum's type tag (the id already names the type).
fn settings<T: Serialize>(components: &BTreeMap<ComponentId, T>) -> BTreeMap<&ComponentId, Value> {
    components
        .iter()
        .map(|(id, config)| {
            let value = yaml_serde::to_value(config).expect("component configs serialize to YAML");
            let inner = match value {
                Value::Tagged(tagged) => tagged.value,
                Value::Mapping(map) if map.len() == 1 => {
                    map.into_iter().next().map(|(_, v)| v).unwrap_or_default()
                }
                other => other,
            };
            (id, inner)
        })
        .collect()
}
