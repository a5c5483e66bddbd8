//! kotel: a node agent that turns Linux kernel events into OpenTelemetry metrics and logs.
//!
//! The flow is sources -> processors -> exporters, built from `pipeline.yaml` by
//! [`pipeline`]; see the repository's README for the operator's view.

pub mod component;
pub mod config;
pub mod doctor;
pub mod event;
pub mod exporters;
pub mod kernel;
pub mod node;
pub mod pipeline;
pub mod preflight;
pub mod processors;
pub mod settings;
pub mod sources;
pub mod telemetry;
