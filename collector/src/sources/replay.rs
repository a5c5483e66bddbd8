//! The `replay` source: events read back from a JSON-lines file, one [`Event`] per line
//! (what `kotel run --record` writes). Pipeline tests, benchmarks and bug reports use it
//! to run without root or a kernel.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::config::ComponentId;
use crate::event::{Batch, Event};
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, Source, SourceOutput};
use crate::telemetry::names;

/// `sources.replay`: reads events back from a JSON-lines file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplaySourceConfig {
    /// The file to read, one JSON event per line (as written by `kotel run --record`).
    pub path: PathBuf,
    /// Most events in one batch.
    pub batch_max_events: usize,
    /// How many times to read the file (benchmarks replay a small file many times).
    pub repeat: u32,
}

impl Default for ReplaySourceConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::new(),
            batch_max_events: 256,
            repeat: 1,
        }
    }
}

impl ReplaySourceConfig {
    /// Problems as `(field, message)`: a path is required, sizes must be positive.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push((
                "path".into(),
                "is required: the JSON-lines file to read".into(),
            ));
        }
        if self.batch_max_events == 0 {
            problems.push(("batch_max_events".into(), "must be at least 1".into()));
        }
        if self.repeat == 0 {
            problems.push(("repeat".into(), "must be at least 1".into()));
        }
        problems
    }
}

/// Lines that fail to parse are logged (the first few, with their line numbers) and
/// counted as `kotel.source.decode_errors{reason="invalid_json"}`, never fatal.
const LOGGED_BAD_LINES: u64 = 5;

/// Reads the file `repeat` times, then finishes (`Ok`); stops early on shutdown.
pub struct ReplaySource {
    id: String,
    config: ReplaySourceConfig,
}

impl ReplaySource {
    /// A source for `config`; the file is opened when it runs.
    pub fn new(id: &ComponentId, config: &ReplaySourceConfig) -> Self {
        Self {
            id: id.to_string(),
            config: config.clone(),
        }
    }

    async fn replay(self, out: SourceOutput, shutdown: Shutdown) -> Result<(), ComponentError> {
        let bad_lines = metrics::counter!(names::DECODE_ERRORS, "source" => self.id.clone(), names::REASON => "invalid_json");
        let max = self.config.batch_max_events.max(1);
        let mut bad = 0u64;
        for _ in 0..self.config.repeat {
            let file = tokio::fs::File::open(&self.config.path)
                .await
                .map_err(|e| {
                    ComponentError::Startup(format!(
                        "cannot open {}: {e}",
                        self.config.path.display()
                    ))
                })?;
            let mut lines = BufReader::new(file).lines();
            let mut batch: Batch = Vec::with_capacity(max);
            let mut number = 0u64;
            while let Some(line) = lines.next_line().await.map_err(|e| {
                ComponentError::Input(format!("{}: {e}", self.config.path.display()))
            })? {
                number += 1;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Event>(&line) {
                    Ok(event) => batch.push(event),
                    Err(e) => {
                        bad += 1;
                        bad_lines.increment(1);
                        if bad <= LOGGED_BAD_LINES {
                            tracing::warn!(component = %self.id, line = number, error = %e, "skipping a line that is not an event");
                        }
                    }
                }
                if batch.len() >= max {
                    out.send(std::mem::replace(&mut batch, Vec::with_capacity(max)))
                        .await;
                    if shutdown.is_requested() {
                        return Ok(());
                    }
                }
            }
            out.send(batch).await;
        }
        Ok(())
    }
}

impl Source for ReplaySource {
    fn run(
        self: Box<Self>,
        out: SourceOutput,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        Box::pin(self.replay(out, shutdown))
    }
}
