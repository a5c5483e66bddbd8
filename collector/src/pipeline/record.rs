//! `kotel run --record FILE`: everything the sources emit, one JSON event per line, in
//! the format the `replay` source reads back.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::component::{BoxFuture, ComponentError, Exporter};
use crate::event::Batch;

/// Writes batches as JSON lines to a file (created, and truncated or appended to).
pub struct RecordExporter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl RecordExporter {
    /// Creates `path`, truncating it, or appending to it when `append`.
    pub fn open(path: &Path, append: bool) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    fn write(&mut self, batch: &Batch) -> Result<(), ComponentError> {
        for event in batch {
            serde_json::to_writer(&mut self.out, event)
                .map_err(|e| ComponentError::Output(format!("{}: {e}", self.path.display())))?;
            self.out
                .write_all(b"\n")
                .map_err(|e| ComponentError::Output(format!("{}: {e}", self.path.display())))?;
        }
        Ok(())
    }
}

impl Exporter for RecordExporter {
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>> {
        Box::pin(async move { self.write(batch) })
    }

    fn flush(&mut self, _: tokio::time::Instant) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.out
                .flush()
                .map_err(|e| ComponentError::Output(format!("{}: {e}", self.path.display())))
        })
    }
}
