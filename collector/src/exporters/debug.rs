//! The `debug` exporter.

use serde::{Deserialize, Serialize};

/// `exporters.debug`: readable output on stdout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebugExporterConfig {}
