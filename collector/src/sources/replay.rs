//! The `replay` source.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `sources.replay`: reads events back from a JSON-lines file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplaySourceConfig {
    /// The file to read, one JSON event per line (as written by `kotel run --record`).
    pub path: PathBuf,
}
