//! One serde enum per component kind, tagged by the component type (the part of the id
//! before `/`). A `match` over these is exhaustive: adding a type means handling it
//! everywhere the compiler points at.

use serde::{Deserialize, Serialize};

use crate::config::Signal;
use crate::exporters::debug::DebugExporterConfig;
use crate::processors::filter::FilterProcessorConfig;
use crate::sources::replay::ReplaySourceConfig;
use crate::sources::tcp::TcpSourceConfig;

/// Configuration of one source, by type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// TCP connection lifecycle from the kernel (`sock:inet_sock_set_state`).
    Tcp(TcpSourceConfig),
    /// Events read back from a JSON-lines file (`kotel run --record` writes those).
    Replay(ReplaySourceConfig),
}

impl SourceConfig {
    /// The signals this source can feed.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            SourceConfig::Tcp(_) | SourceConfig::Replay(_) => &[Signal::Metrics, Signal::Logs],
        }
    }

    /// True when the source needs root / CAP_BPF (it loads kernel programs).
    pub fn needs_kernel(&self) -> bool {
        matches!(self, SourceConfig::Tcp(_))
    }
}

/// Configuration of one processor, by type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ProcessorConfig {
    /// Keeps or drops events by kind, process name and port.
    Filter(FilterProcessorConfig),
}

impl ProcessorConfig {
    /// The signals this processor can sit in.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            ProcessorConfig::Filter(_) => &[Signal::Metrics, Signal::Logs],
        }
    }
}

/// Configuration of one exporter, by type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExporterConfig {
    /// Readable lines on stdout, like the Collector's debug exporter.
    Debug(DebugExporterConfig),
}

impl ExporterConfig {
    /// The signals this exporter accepts.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            ExporterConfig::Debug(_) => &[Signal::Metrics, Signal::Logs],
        }
    }
}
