//! `pipeline.yaml`: schema, `${env:VAR}` substitution, defaults and validation.

pub mod components;
pub mod duration;
pub mod id;
pub mod schema;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use components::{ExporterConfig, ProcessorConfig, SourceConfig};
pub use id::{ComponentId, PipelineId};
pub use schema::{Config, PipelineConfig, RuntimeConfig, TelemetryConfig, WhenFull};

/// The kind of telemetry a pipeline carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Counters, gauges, histograms.
    Metrics,
    /// Log records (security and lifecycle events).
    Logs,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        })
    }
}
