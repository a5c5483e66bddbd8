//! What loading a pipeline file reports: every problem found, each with where it is.

use std::fmt;

/// One problem in the pipeline file: the one shape every check reports in, from a
/// component's own `validate` to the document's cross-section checks.
///
/// `path` says where, with `::` between levels like the OpenTelemetry Collector
/// (`sources::tcp/fast::batch_timeout`, `pipelines::logs::exporters`). A component's
/// checks give paths below the component (`batch_timeout`, `rules[0]::port`, empty for the
/// component as a whole), and the loader places them with [`ConfigError::under`]. The
/// path is empty for problems with the document as a whole (bad YAML, an unset
/// `${env:VAR}`); their message names the line instead. Displayed as `path: message`, or the message alone when `path`
/// is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the problem is, levels joined by `::`; empty for the whole document.
    pub path: String,
    /// What is wrong, for an operator to read.
    pub message: String,
}

impl ConfigError {
    /// An error at `path` (see the type's doc for its form).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl ConfigError {
    /// The same problem seen from `parent`: its path becomes `parent::path`.
    pub fn under(self, parent: &str) -> Self {
        Self {
            path: join(parent, &self.path),
            message: self.message,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one pass over a pipeline file, in the order found. Never empty
/// when returned by [`load_file`](crate::config::load_file) or
/// [`parse_str`](crate::config::parse_str). Displayed one error per line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

impl From<Vec<ConfigError>> for ConfigErrors {
    fn from(errors: Vec<ConfigError>) -> Self {
        Self(errors)
    }
}

/// `parent::child`, or whichever of the two is not empty.
pub(crate) fn join(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty()) {
        (_, true) => parent.to_string(),
        (true, false) => child.to_string(),
        (false, false) => format!("{parent}::{child}"),
    }
}
