//! Checks of the settings every ring-buffer source has (`ring_buffer_bytes`,
//! `batch_max_events`, `batch_timeout`), so the sources word them alike.

use crate::settings::ConfigError;
use std::time::Duration;

/// Largest batch a kernel source may be configured to build.
pub const MAX_BATCH_EVENTS: usize = 65_536;

/// Problems (paths are field names): the ring buffer must be a power of two of at least
/// `min_ring_bytes`, the batch size 1 to [`MAX_BATCH_EVENTS`], the timeout positive.
pub fn validate_ring(
    ring_buffer_bytes: u32,
    min_ring_bytes: u32,
    batch_max_events: usize,
    batch_timeout: Duration,
) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    if !ring_buffer_bytes.is_power_of_two() || ring_buffer_bytes < min_ring_bytes {
        problems.push(ConfigError::new(
            "ring_buffer_bytes",
            format!("{ring_buffer_bytes} is not a power of two of at least {min_ring_bytes}"),
        ));
    }
    if !(1..=MAX_BATCH_EVENTS).contains(&batch_max_events) {
        problems.push(ConfigError::new(
            "batch_max_events",
            format!("must be 1 to {MAX_BATCH_EVENTS}"),
        ));
    }
    if batch_timeout.is_zero() {
        problems.push(ConfigError::new("batch_timeout", "must be longer than 0"));
    }
    problems
}

/// The problem with a byte threshold that must stay below the ring buffer's size.
pub fn validate_wakeup_bytes(wakeup_bytes: u32, ring_buffer_bytes: u32) -> Option<ConfigError> {
    (wakeup_bytes >= ring_buffer_bytes).then(|| {
        ConfigError::new(
            "wakeup_bytes",
            format!("{wakeup_bytes} must be below ring_buffer_bytes ({ring_buffer_bytes})"),
        )
    })
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
