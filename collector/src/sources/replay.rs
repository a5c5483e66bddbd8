//! The `replay` source: events read back from a JSON-lines file, one [`Event`] per line
//! (what `kotel run --record` writes). Pipeline tests, benchmarks and bug reports use it
//! to run without root or a kernel.
//!
//! Contract: lines that are not events (bad JSON, invalid UTF-8, longer than
//! [`MAX_LINE_BYTES`]) are skipped, counted in `kotel.source.decode_errors{source,reason}`
//! and the first few logged with their line numbers; blank lines are ignored. A file that
//! cannot be opened is a start-up error (retried with backoff: it may appear later); a
//! read error half way is fatal for the source (a restart would replay the file again).
//! Shutdown is honoured between lines.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::component::kind::{Declared, Kind, Shared, SourceType};
use crate::component::{BoxFuture, ComponentError, Shutdown, Source, SourceOutput};
use crate::event::{Batch, Event};
use crate::settings::ComponentId;
use crate::settings::ConfigError;
use crate::settings::Signal;
use crate::telemetry::names;

/// Longest line read as an event; longer lines are skipped (`reason="line_too_long"`).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Largest batch a replay may be configured to build.
const MAX_BATCH: usize = 65_536;
/// Undecodable lines logged before logging stops.
const LOGGED_BAD_LINES: u64 = 5;

/// `sources.replay`: reads events back from a JSON-lines file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplaySourceConfig {
    /// The file to read, one JSON event per line (as written by `kotel run --record`).
    pub path: PathBuf,
    /// Most events in one batch (1 to 65536).
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
    /// Problems (paths are field names): a path is required, sizes must be in range.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if self.path.as_os_str().is_empty() {
            problems.push(ConfigError::new(
                "path",
                "is required: the JSON-lines file to read",
            ));
        }
        if !(1..=MAX_BATCH).contains(&self.batch_max_events) {
            problems.push(ConfigError::new(
                "batch_max_events",
                format!("must be 1 to {MAX_BATCH}"),
            ));
        }
        if self.repeat == 0 {
            problems.push(ConfigError::new("repeat", "must be at least 1"));
        }
        problems
    }
}

/// Reads the file `repeat` times, then finishes (`Ok`); stops early on shutdown.
pub struct ReplaySource {
    id: String,
    config: ReplaySourceConfig,
}

/// Why a line was skipped.
enum BadLine {
    TooLong,
    NotAnEvent(serde_json::Error),
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
        let max = self.config.batch_max_events.clamp(1, MAX_BATCH);
        let path = self.config.path.display().to_string();
        let mut bad = 0u64;
        for _ in 0..self.config.repeat {
            let file = tokio::fs::File::open(&self.config.path)
                .await
                .map_err(|e| ComponentError::Startup(format!("cannot open {path}: {e}")))?;
            let mut reader = BufReader::new(file);
            let mut batch: Batch = Vec::with_capacity(max);
            let mut number = 0u64;
            let mut line = Vec::new();
            while !shutdown.is_requested() {
                let Some(read) = read_line(&mut reader, &mut line).await.map_err(|e| {
                    ComponentError::Fatal(format!("{path}: line {}: {e}", number + 1))
                })?
                else {
                    break;
                };
                number += 1;
                let event = match read {
                    _ if line.iter().all(u8::is_ascii_whitespace) => continue,
                    LineRead::Whole => {
                        serde_json::from_slice::<Event>(&line).map_err(BadLine::NotAnEvent)
                    }
                    LineRead::TooLong => Err(BadLine::TooLong),
                };
                match event {
                    Ok(event) => batch.push(event),
                    Err(why) => {
                        bad += 1;
                        self.count_bad_line(&why, number, bad);
                    }
                }
                if batch.len() >= max {
                    out.send(std::mem::replace(&mut batch, Vec::with_capacity(max)))
                        .await;
                }
            }
            out.send(batch).await;
            if shutdown.is_requested() {
                break;
            }
        }
        Ok(())
    }

    fn count_bad_line(&self, why: &BadLine, number: u64, bad: u64) {
        let (reason, detail) = match why {
            BadLine::TooLong => (
                "line_too_long",
                format!("longer than {MAX_LINE_BYTES} bytes"),
            ),
            BadLine::NotAnEvent(e) => ("invalid_json", e.to_string()),
        };
        metrics::counter!(names::DECODE_ERRORS, "source" => self.id.clone(), names::REASON => reason).increment(1);
        if bad <= LOGGED_BAD_LINES {
            tracing::warn!(component = %self.id, line = number, error = %detail, "skipping a line that is not an event");
        }
    }
}

/// How much of a line [`read_line`] kept.
enum LineRead {
    /// The whole line (without its newline).
    Whole,
    /// The line was longer than [`MAX_LINE_BYTES`]; the rest was read and thrown away.
    TooLong,
}

/// Reads one line into `line` (cleared first), keeping at most [`MAX_LINE_BYTES`] in
/// memory; `None` at the end of the file.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<LineRead>> {
    line.clear();
    let limit = MAX_LINE_BYTES as u64 + 1;
    let n = (&mut *reader).take(limit).read_until(b'\n', line).await?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        return Ok(Some(LineRead::Whole));
    }
    if line.len() <= MAX_LINE_BYTES {
        return Ok(Some(LineRead::Whole)); // the last line, without a newline
    }
    // Skip the rest of the over-long line without keeping it.
    let mut rest = Vec::new();
    loop {
        rest.clear();
        let n = (&mut *reader)
            .take(limit)
            .read_until(b'\n', &mut rest)
            .await?;
        if n == 0 || rest.last() == Some(&b'\n') {
            return Ok(Some(LineRead::TooLong));
        }
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

impl Kind for ReplaySourceConfig {
    const KIND: &'static str = "replay";
}

impl Declared for ReplaySourceConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Metrics, Signal::Logs]
    }
    fn validate(&self) -> Vec<ConfigError> {
        ReplaySourceConfig::validate(self)
    }
}

impl SourceType for ReplaySourceConfig {
    fn build(&self, id: &ComponentId, _shared: &Shared) -> Box<dyn Source> {
        Box::new(ReplaySource::new(id, self))
    }
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
