//! Builds the component graph from the config, runs it and shuts it down.
//!
//! ```text
//! source --edge--> pipeline (processors in order) --edge--> exporter
//!        \--edge--> other pipelines / the recorder
//! ```
//! Every edge is a bounded channel with the `runtime.when_full` policy; the runtime counts
//! events received, sent and dropped per component (`kotel.component.events.*`).

pub mod build;
pub mod graph;
pub mod record;
pub mod reload;
pub mod reload_plan;
pub mod run;
pub mod stages;
pub mod supervisor;
pub mod ticker;

pub use reload::{run_reloading, ConfigWatch};
pub use run::{run, run_with, RunError, RunOptions, RunReport, StopReason};

#[cfg(test)]
pub(crate) mod tests;
