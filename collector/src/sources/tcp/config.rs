//! Configuration of the `tcp` source.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::duration;

/// `sources.tcp`: TCP connect, accept, failed connect and close events from the kernel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpSourceConfig {
    /// Size of the kernel ring buffer in bytes (a power of two, at least one page).
    pub ring_buffer_bytes: u32,
    /// How many sockets the kernel remembers an owner for at once (LRU; evictions counted).
    pub max_tracked_sockets: u32,
    /// Most events in one batch handed to the pipeline.
    pub batch_max_events: usize,
    /// Longest an event waits in a partial batch before it is sent.
    #[serde(with = "duration")]
    pub batch_timeout: Duration,
}

impl Default for TcpSourceConfig {
    fn default() -> Self {
        Self {
            ring_buffer_bytes: 256 * 1024,
            max_tracked_sockets: 65_536,
            batch_max_events: 512,
            batch_timeout: Duration::from_millis(200),
        }
    }
}
