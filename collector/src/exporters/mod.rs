//! Batch consumers.

pub mod debug;
pub mod otlp;
