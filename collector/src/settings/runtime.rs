//! `runtime` and `telemetry`: how the runtime moves batches, restarts and shuts down, and
//! how often the agent's own metrics are handed on.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::duration;

/// What a source does when the channel to its pipeline is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Drop the new batch at once and count it (never blocks a kernel reader).
    #[default]
    DropNewest,
    /// Wait up to `runtime.block_timeout` for room, then drop and count.
    Block,
}

/// `runtime`: channels, back-pressure, restarts and shutdown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Batches each channel between stages can hold.
    pub channel_capacity: usize,
    /// What a source does when its pipeline's channel is full.
    pub when_full: WhenFull,
    /// With `when_full: block`, the longest a source waits before dropping.
    #[serde(with = "duration")]
    pub block_timeout: Duration,
    /// Time allowed after SIGINT/SIGTERM to stop sources, drain and flush exporters.
    #[serde(with = "duration")]
    pub shutdown_timeout: Duration,
    /// First wait before a failed source is started again; doubles up to `restart_backoff_max`.
    #[serde(with = "duration")]
    pub restart_backoff_initial: Duration,
    /// Longest wait between restarts of a failing source.
    #[serde(with = "duration")]
    pub restart_backoff_max: Duration,
    /// How often `kotel run` checks its pipeline file for changes (a ConfigMap update, an
    /// edit); a changed, valid file replaces the running pipelines without a restart of
    /// the process. `0s`: only on SIGHUP.
    #[serde(with = "duration")]
    pub reload_interval: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            channel_capacity: 64,
            when_full: WhenFull::DropNewest,
            block_timeout: Duration::from_millis(50),
            shutdown_timeout: Duration::from_secs(10),
            restart_backoff_initial: Duration::from_secs(1),
            restart_backoff_max: Duration::from_secs(60),
            reload_interval: Duration::from_secs(2),
        }
    }
}

/// `telemetry`: the agent's own `kotel.*` metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// How often a snapshot of the agent's metrics is handed to every exporter of a
    /// metrics pipeline and every debug exporter (`0s` switches it off).
    #[serde(with = "duration")]
    pub interval: Duration,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
        }
    }
}
