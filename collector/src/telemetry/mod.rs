//! The agent's own metrics (`kotel.*`), recorded through the `metrics` facade into an
//! in-process registry and read back as [`TelemetrySnapshot`]s that the runtime hands to
//! every exporter, like any other data.
//!
//! Names used across the agent live in [`names`] so no string is written twice.

pub mod names;
mod recorder;

pub use recorder::{install, snapshot};
