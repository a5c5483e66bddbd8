//! The `file_open` source: opens of watched paths. (Being built: see issue 3.)

use serde::{Deserialize, Serialize};

use crate::config::ComponentId;
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, Source, SourceOutput};

/// `sources.file_open`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileOpenSourceConfig {}

impl FileOpenSourceConfig {
    /// Problems as `(field, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// The running source.
pub struct FileOpenSource {
    id: String,
}

impl FileOpenSource {
    /// A source for `config`; touches nothing until it runs.
    pub fn new(id: &ComponentId, _config: &FileOpenSourceConfig) -> Self {
        Self { id: id.to_string() }
    }
}

impl Source for FileOpenSource {
    fn run(
        self: Box<Self>,
        _out: SourceOutput,
        _shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        Box::pin(async move {
            Err(ComponentError::Startup(format!(
                "{}: not built yet",
                self.id
            )))
        })
    }
}
