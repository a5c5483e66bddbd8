//! `pipeline.yaml`: schema, `${env:VAR}` substitution, defaults and validation.
//!
//! [`load_file`] / [`parse_str`] run three stages: `${env:...}` substitution on the raw
//! text (`env`), YAML parsing, then reading each section and component on its own
//! (`load`, `decode`) and checking them together (`validate`). Every problem found is
//! returned at once as [`ConfigErrors`], each with a `::` path. [`Config::to_yaml`] writes
//! the effective configuration back (`print`).
//!
//! This module sits above the components: its registry ([`components`]) lists their
//! config types. The vocabulary they share with it (ids, signals, durations,
//! [`ConfigError`]) is [`crate::settings`], at the bottom, re-exported here.

pub mod components;
pub mod schema;

mod decode;
mod draft;
mod env;
mod load;
mod print;
#[cfg(test)]
mod tests;
mod validate;

pub use components::{ExporterConfig, ProcessorConfig, SourceConfig};
pub use load::{load_file, parse_str};
pub use schema::{Config, PipelineConfig};
// The shared vocabulary, where users of the pipeline file look for it too.
pub use crate::settings::{
    duration, node, ComponentId, ConfigError, ConfigErrors, PipelineId, RuntimeConfig, Signal,
    TelemetryConfig, WhenFull,
};
