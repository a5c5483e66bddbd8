//! One serde enum per component kind, tagged by the component type (the part of the id
//! before `/`). A `match` over these is exhaustive: adding a type means handling it
//! everywhere the compiler points at.

use serde::{Deserialize, Serialize};

use crate::config::Signal;
use crate::exporters::debug::DebugExporterConfig;
use crate::exporters::otlp::OtlpExporterConfig;
use crate::exporters::prometheus::PrometheusExporterConfig;
use crate::processors::aggregate::AggregateConfig;
use crate::processors::filter::FilterProcessorConfig;
use crate::processors::k8s_cri::K8sCriConfig;
use crate::sources::exec::ExecSourceConfig;
use crate::sources::file_open::FileOpenSourceConfig;
use crate::sources::replay::ReplaySourceConfig;
use crate::sources::tcp::TcpSourceConfig;

/// Configuration of one source, by type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// TCP connection lifecycle from the kernel (`sock:inet_sock_set_state`).
    Tcp(TcpSourceConfig),
    /// Successful execs from the kernel, with argv.
    Exec(ExecSourceConfig),
    /// Opens of watched paths, matched in the kernel.
    FileOpen(FileOpenSourceConfig),
    /// Events read back from a JSON-lines file (`kotel run --record` writes those).
    Replay(ReplaySourceConfig),
}

impl SourceConfig {
    /// Every source type as written in ids (`tcp` in `tcp/fast`), in variant order. A test
    /// keeps it in step with the variants.
    pub const KINDS: &'static [&'static str] = &["tcp", "exec", "file_open", "replay"];

    /// This source's type as written in ids.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Tcp(_) => "tcp",
            SourceConfig::Exec(_) => "exec",
            SourceConfig::FileOpen(_) => "file_open",
            SourceConfig::Replay(_) => "replay",
        }
    }

    /// Checks beyond what the types enforce, as `(field, message)` pairs; `field` is the
    /// path below the component (`batch_timeout`, `rules[0]::port`), empty for the
    /// component as a whole. Run for every source whose settings decoded.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            SourceConfig::Tcp(c) => c.validate(),
            SourceConfig::Exec(c) => c.validate(),
            SourceConfig::FileOpen(c) => c.validate(),
            SourceConfig::Replay(c) => c.validate(),
        }
    }

    /// The signals this source can feed.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            SourceConfig::Tcp(_) | SourceConfig::Replay(_) => &[Signal::Metrics, Signal::Logs],
            SourceConfig::Exec(_) | SourceConfig::FileOpen(_) => &[Signal::Logs],
        }
    }

    /// True when the source needs root / CAP_BPF (it loads kernel programs).
    pub fn needs_kernel(&self) -> bool {
        matches!(
            self,
            SourceConfig::Tcp(_) | SourceConfig::Exec(_) | SourceConfig::FileOpen(_)
        )
    }
}

/// Configuration of one processor, by type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ProcessorConfig {
    /// Keeps or drops events by kind, process name and port.
    Filter(FilterProcessorConfig),
    /// Attributes events to containers, pods and namespaces through the CRI.
    K8sCri(K8sCriConfig),
    /// Turns events into metrics per attribute set.
    Aggregate(AggregateConfig),
}

impl ProcessorConfig {
    /// Every processor type as written in ids, in variant order. A test keeps it in step
    /// with the variants.
    pub const KINDS: &'static [&'static str] = &["filter", "k8s_cri", "aggregate"];

    /// This processor's type as written in ids.
    pub fn kind(&self) -> &'static str {
        match self {
            ProcessorConfig::Filter(_) => "filter",
            ProcessorConfig::K8sCri(_) => "k8s_cri",
            ProcessorConfig::Aggregate(_) => "aggregate",
        }
    }

    /// Checks beyond what the types enforce, as `(field, message)` pairs; see
    /// [`SourceConfig::validate`].
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ProcessorConfig::Filter(_) => Vec::new(),
            ProcessorConfig::K8sCri(c) => c.validate(),
            ProcessorConfig::Aggregate(c) => c.validate(),
        }
    }

    /// The signals this processor can sit in.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            ProcessorConfig::Filter(_) | ProcessorConfig::K8sCri(_) => {
                &[Signal::Metrics, Signal::Logs]
            }
            ProcessorConfig::Aggregate(_) => &[Signal::Metrics],
        }
    }
}

/// Configuration of one exporter, by type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExporterConfig {
    /// Readable lines on stdout, like the Collector's debug exporter.
    Debug(DebugExporterConfig),
    /// OTLP metrics and logs over gRPC or HTTP.
    Otlp(Box<OtlpExporterConfig>),
    /// A Prometheus scrape endpoint.
    Prometheus(PrometheusExporterConfig),
}

impl ExporterConfig {
    /// Every exporter type as written in ids, in variant order. A test keeps it in step
    /// with the variants.
    pub const KINDS: &'static [&'static str] = &["debug", "otlp", "prometheus"];

    /// This exporter's type as written in ids.
    pub fn kind(&self) -> &'static str {
        match self {
            ExporterConfig::Debug(_) => "debug",
            ExporterConfig::Otlp(_) => "otlp",
            ExporterConfig::Prometheus(_) => "prometheus",
        }
    }

    /// True when the agent's self-telemetry snapshots go to this exporter even where it
    /// is in no metrics pipeline: the debug exporter's one-line summary is a local view
    /// for the operator, while a backend behind a logs-only exporter may take nothing
    /// but logs.
    pub fn takes_telemetry_outside_metrics_pipelines(&self) -> bool {
        matches!(self, ExporterConfig::Debug(_))
    }

    /// Checks beyond what the types enforce, as `(field, message)` pairs; see
    /// [`SourceConfig::validate`].
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            ExporterConfig::Debug(_) => Vec::new(),
            ExporterConfig::Otlp(c) => c.validate(),
            ExporterConfig::Prometheus(c) => c.validate(),
        }
    }

    /// The signals this exporter accepts.
    pub fn signals(&self) -> &'static [Signal] {
        match self {
            ExporterConfig::Debug(_) | ExporterConfig::Otlp(_) => &[Signal::Metrics, Signal::Logs],
            ExporterConfig::Prometheus(_) => &[Signal::Metrics],
        }
    }
}
