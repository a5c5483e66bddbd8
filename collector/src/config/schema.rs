//! The pipeline file's shape: what `pipeline.yaml` may contain, with defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::components::{ExporterConfig, ProcessorConfig, SourceConfig};
use crate::settings::{ComponentId, PipelineId, RuntimeConfig, TelemetryConfig};

/// The whole pipeline file after parsing, substitution and defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Sources by id (`type[/name]`).
    pub sources: BTreeMap<ComponentId, SourceConfig>,
    /// Processors by id.
    pub processors: BTreeMap<ComponentId, ProcessorConfig>,
    /// Exporters by id.
    pub exporters: BTreeMap<ComponentId, ExporterConfig>,
    /// Pipelines by id (`metrics`, `logs`, `metrics/NAME`, ...).
    pub pipelines: BTreeMap<PipelineId, PipelineConfig>,
    /// How the runtime moves batches and shuts down.
    pub runtime: RuntimeConfig,
    /// The agent's own metrics.
    pub telemetry: TelemetryConfig,
}

/// One pipeline: sources feed the processors in order, whose output fans out to every
/// exporter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Source ids feeding this pipeline (at least one).
    pub sources: Vec<ComponentId>,
    /// Processor ids, applied in this order.
    #[serde(default)]
    pub processors: Vec<ComponentId>,
    /// Exporter ids receiving the result (at least one).
    pub exporters: Vec<ComponentId>,
}
