//! Batch consumers.

pub mod debug;
pub mod otlp;
pub mod prometheus;
