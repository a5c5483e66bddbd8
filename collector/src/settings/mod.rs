//! The vocabulary of settings every layer shares: component and pipeline ids, signals,
//! durations as written in YAML, the node's identity, the runtime and telemetry
//! settings, and [`ConfigError`], the one shape every check reports in. The pipeline file
//! itself (its document, the registry of component types, loading and validation) is
//! [`crate::config`], above the components it lists.

pub mod duration;
pub mod error;
pub mod id;
pub mod node;
pub mod runtime;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use error::{ConfigError, ConfigErrors};
pub use id::{ComponentId, PipelineId};
pub use runtime::{RuntimeConfig, TelemetryConfig, WhenFull};

/// The kind of telemetry a pipeline carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// Counters, gauges, histograms.
    Metrics,
    /// Log records (security and lifecycle events).
    Logs,
    /// Spans (requests).
    Traces,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Traces => "traces",
        })
    }
}
