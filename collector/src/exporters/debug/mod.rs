//! The `debug` exporter: events as readable text on stdout, like the OpenTelemetry
//! Collector's debug exporter. `basic` prints one line per event and a one-line summary
//! of the agent's own metrics; `detailed` prints every field and every metric series.

pub mod format;

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::component::kind::{Declared, ExporterType, Kind, Shared};
use crate::component::{BoxFuture, ComponentError, Exporter};
use crate::event::Batch;
use crate::settings::{ComponentId, Signal};

/// How much the debug exporter prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verbosity {
    /// One line per event.
    #[default]
    Basic,
    /// Every field of every event, one per line.
    Detailed,
}

/// `exporters.debug`: readable output on stdout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebugExporterConfig {
    /// `basic` (one line per event) or `detailed` (every field).
    pub verbosity: Verbosity,
}

/// Writes each batch to `out` as text; a write error (stdout closed) is an export error.
pub struct DebugExporter<W: Write + Send> {
    verbosity: Verbosity,
    out: W,
    text: String,
}

impl DebugExporter<io::Stdout> {
    /// An exporter printing to the process's stdout.
    pub fn stdout(config: &DebugExporterConfig) -> Self {
        Self::to_writer(config, io::stdout())
    }
}

impl<W: Write + Send> DebugExporter<W> {
    /// An exporter printing to `out` (tests use a buffer).
    pub fn to_writer(config: &DebugExporterConfig, out: W) -> Self {
        Self {
            verbosity: config.verbosity,
            out,
            text: String::new(),
        }
    }

    /// What has been written so far, for writers that keep it.
    pub fn writer(&self) -> &W {
        &self.out
    }

    fn write_batch(&mut self, batch: &Batch) -> Result<(), ComponentError> {
        self.text.clear();
        for event in batch {
            format::event(&mut self.text, event, self.verbosity);
        }
        self.out
            .write_all(self.text.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| ComponentError::Output(format!("writing to stdout: {e}")))
    }
}

impl<W: Write + Send> Exporter for DebugExporter<W> {
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>> {
        Box::pin(async move { self.write_batch(batch) })
    }

    fn flush(&mut self, _: tokio::time::Instant) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.out
                .flush()
                .map_err(|e| ComponentError::Output(format!("flushing stdout: {e}")))
        })
    }
}

impl Kind for DebugExporterConfig {
    const KIND: &'static str = "debug";
}

impl Declared for DebugExporterConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Metrics, Signal::Logs, Signal::Traces]
    }
}

impl ExporterType for DebugExporterConfig {
    fn takes_telemetry_outside_metrics_pipelines(&self) -> bool {
        true
    }

    fn build(&self, id: &ComponentId, _shared: &Shared) -> Box<dyn Exporter> {
        let _ = id;
        Box::new(DebugExporter::stdout(self))
    }
}

#[cfg(test)]
mod tests;
