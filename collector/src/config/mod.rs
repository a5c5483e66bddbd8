//! `pipeline.yaml`: schema, `${env:VAR}` substitution, defaults and validation.
//!
//! [`load_file`] / [`parse_str`] run three stages: `${env:...}` substitution on the raw
//! text (`env`), YAML parsing, then reading each section and component on its own
//! (`load`, `decode`) and checking them together (`validate`). Every problem found is
//! returned at once as [`ConfigErrors`], each with a `::` path. [`Config::to_yaml`] writes
//! the effective configuration back (`print`).

pub mod components;
pub mod duration;
pub mod id;
pub mod node;
pub mod schema;

mod decode;
mod draft;
mod env;
mod error;
mod load;
mod print;
#[cfg(test)]
mod tests;
mod validate;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use components::{ExporterConfig, ProcessorConfig, SourceConfig};
pub use error::{ConfigError, ConfigErrors};
pub use id::{ComponentId, PipelineId};
pub use load::{load_file, parse_str};
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
