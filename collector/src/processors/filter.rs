//! The `filter` processor.

use serde::{Deserialize, Serialize};

/// `processors.filter`: keeps or drops events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterProcessorConfig {}
