//! Batch consumers.

pub mod debug;
