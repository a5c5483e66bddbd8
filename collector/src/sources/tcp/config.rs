//! Configuration of the `tcp` source.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::duration;
use crate::sources::kernel_filter::KernelFilterConfig;

/// `sources.tcp`: TCP connect, accept, failed connect and close events from the kernel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpSourceConfig {
    /// Size of the kernel ring buffer in bytes (a power of two, at least one page).
    pub ring_buffer_bytes: u32,
    /// How many sockets the kernel remembers an owner for at once; beyond it new sockets
    /// are not tracked (counted as `owner_map_full`) and their events carry pid 0.
    pub max_tracked_sockets: u32,
    /// Most events in one batch handed to the pipeline.
    pub batch_max_events: usize,
    /// Longest an event waits in a partial batch before it is sent.
    #[serde(with = "duration")]
    pub batch_timeout: Duration,
    /// When the kernel wakes the reader: `0` wakes it on every event (the kernel's default
    /// policy, ~4-6 µs per event of kernel time on a VM); a positive value wakes it only once
    /// this many bytes (128 per event) wait unread, and the reader otherwise polls every
    /// `batch_timeout / 4` (5 to 50 ms): ~0.85 µs per event. Must be below
    /// `ring_buffer_bytes`.
    pub wakeup_bytes: u32,
    /// Which processes and ports the kernel reports (cgroup ids, comms, ports); see
    /// README "Kernel filters". Changing it at runtime needs no reload.
    pub filter: KernelFilterConfig,
}

impl Default for TcpSourceConfig {
    fn default() -> Self {
        Self {
            ring_buffer_bytes: 256 * 1024,
            max_tracked_sockets: 65_536,
            batch_max_events: 512,
            batch_timeout: Duration::from_millis(200),
            wakeup_bytes: 16 * 1024,
            filter: KernelFilterConfig::default(),
        }
    }
}

impl TcpSourceConfig {
    /// Every problem with the values as `(field, message)` (empty when valid). Checked
    /// again when the source starts.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let rb = self.ring_buffer_bytes;
        if !rb.is_power_of_two() || rb < 4096 {
            problems.push((
                "ring_buffer_bytes".into(),
                format!("{rb} is not a power of two of at least 4096"),
            ));
        }
        if self.wakeup_bytes >= rb {
            problems.push((
                "wakeup_bytes".into(),
                format!(
                    "{} must be below ring_buffer_bytes ({rb})",
                    self.wakeup_bytes
                ),
            ));
        }
        if self.max_tracked_sockets == 0 {
            problems.push(("max_tracked_sockets".into(), "must be at least 1".into()));
        }
        if self.batch_max_events == 0 {
            problems.push(("batch_max_events".into(), "must be at least 1".into()));
        }
        problems.extend(self.filter.validate(true));
        if self.batch_timeout.is_zero() {
            problems.push(("batch_timeout".into(), "must be longer than 0".into()));
        }
        problems
    }
}
