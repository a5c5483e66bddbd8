//! A pipeline file read section by section but not yet checked as a whole: what
//! [`load`](super::load) builds and [`validate`](super::validate) checks.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::schema::{Config, PipelineConfig};
use crate::config::{ExporterConfig, ProcessorConfig, SourceConfig};
use crate::settings::id::{ComponentId, PipelineId};
use crate::settings::{RuntimeConfig, TelemetryConfig};

/// Everything that could be read; parts that could not are missing (and reported already).
#[derive(Debug, Default)]
pub(crate) struct Draft {
    pub sources: Section<SourceConfig>,
    pub processors: Section<ProcessorConfig>,
    pub exporters: Section<ExporterConfig>,
    /// Pipelines in file order, including those whose id is invalid.
    pub pipelines: Vec<DraftPipeline>,
    /// False when some pipeline or list could not be read at all, so which components are
    /// used is not known.
    pub pipelines_complete: bool,
    /// `None` when `runtime` did not decode.
    pub runtime: Option<RuntimeConfig>,
    /// `None` when `telemetry` did not decode.
    pub telemetry: Option<TelemetryConfig>,
}

/// One of `sources`, `processors`, `exporters`.
#[derive(Debug)]
pub(crate) struct Section<T> {
    /// Every key that is a valid id, whether or not its type and settings are.
    pub configured: BTreeSet<ComponentId>,
    /// The components whose settings decoded.
    pub parsed: BTreeMap<ComponentId, T>,
}

impl<T> Default for Section<T> {
    fn default() -> Self {
        Self {
            configured: BTreeSet::new(),
            parsed: BTreeMap::new(),
        }
    }
}

/// One entry of `pipelines`.
#[derive(Debug, Default)]
pub(crate) struct DraftPipeline {
    /// `pipelines::<key as written>`.
    pub path: String,
    /// `None` when the key is not a valid pipeline id.
    pub id: Option<PipelineId>,
    /// The listed ids in order; `None` for an entry that is not a valid id.
    pub sources: Vec<Option<ComponentId>>,
    pub processors: Vec<Option<ComponentId>>,
    pub exporters: Vec<Option<ComponentId>>,
}

impl Draft {
    /// The finished config. Only meaningful when reading and validation found no error;
    /// missing parts then cannot occur (they fall back to defaults / are skipped).
    pub fn into_config(self) -> Config {
        let ids = |list: Vec<Option<ComponentId>>| list.into_iter().flatten().collect();
        Config {
            sources: self.sources.parsed,
            processors: self.processors.parsed,
            exporters: self.exporters.parsed,
            pipelines: self
                .pipelines
                .into_iter()
                .filter_map(|p| {
                    let config = PipelineConfig {
                        sources: ids(p.sources),
                        processors: ids(p.processors),
                        exporters: ids(p.exporters),
                    };
                    Some((p.id?, config))
                })
                .collect(),
            runtime: self.runtime.unwrap_or_default(),
            telemetry: self.telemetry.unwrap_or_default(),
        }
    }
}
