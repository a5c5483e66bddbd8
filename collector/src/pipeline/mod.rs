//! Builds the component graph from the config, runs it and shuts it down.

pub mod component;
pub mod output;

pub use component::{BoxFuture, ComponentError, Exporter, Processor, Shutdown, Source};
pub use output::SourceOutput;
