//! The `exec` source: successful execs from the kernel. (Being built: see issue 3.)

use serde::{Deserialize, Serialize};

use crate::config::ComponentId;
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, Source, SourceOutput};

/// `sources.exec`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecSourceConfig {}

impl ExecSourceConfig {
    /// Problems as `(field, message)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// The running source.
pub struct ExecSource {
    id: String,
}

impl ExecSource {
    /// A source for `config`; touches nothing until it runs.
    pub fn new(id: &ComponentId, _config: &ExecSourceConfig) -> Self {
        Self { id: id.to_string() }
    }
}

impl Source for ExecSource {
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
