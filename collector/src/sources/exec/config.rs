//! Configuration of the `exec` source.

use std::time::Duration;

use kotel_common::exec::EXEC_RECORD_SIZE;
use serde::{Deserialize, Serialize};

use crate::kernel::settings::validate_ring;
use crate::settings::ConfigError;

use crate::kernel::filter::KernelFilterConfig;
use crate::settings::duration;

/// Smallest ring buffer accepted: room for a handful of records.
pub const MIN_RING_BUFFER_BYTES: u32 = 16 * 1024;
/// Ring-buffer bytes one exec takes: [`EXEC_RECORD_SIZE`] plus the 8-byte header, 8-byte
/// aligned.
pub const RECORD_BYTES: u32 = ((EXEC_RECORD_SIZE + 8 + 7) & !7) as u32;

/// `sources.exec`: every successful exec with pid, ppid, uid, cgroup id, path and argv.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecSourceConfig {
    /// Size of the kernel ring buffer in bytes: a power of two, at least 16384. Each exec
    /// takes 5208 bytes, so the default (4 MiB) holds ~800 execs between reads.
    pub ring_buffer_bytes: u32,
    /// Most events in one batch handed to the pipeline.
    pub batch_max_events: usize,
    /// Longest an event waits in a partial batch before it is sent.
    #[serde(with = "duration")]
    pub batch_timeout: Duration,
    /// How many unread execs make the kernel wake the reader early; otherwise the reader
    /// polls every `batch_timeout / 4` (5 to 50 ms) and the kernel never pays for a wakeup
    /// (~16 µs of kernel time each on a VM). The kernel checks the backlog on every few
    /// records per CPU, so it may pass this by a little. `0` keeps the kernel's default
    /// (about one wakeup per exec).
    /// Must fit in the ring buffer: `wakeup_events * 5208 < ring_buffer_bytes`.
    pub wakeup_events: u32,
    /// Which kernel hook to use: `auto` (the BTF tracepoint when the kernel has BTF and
    /// accepts it, else the classic tracepoint), `tp_btf` or `tracepoint` (start-up fails
    /// when the chosen one does not load).
    pub hook: HookChoice,
    /// Which processes the kernel reports (cgroup ids or paths, comms; no ports). The comm
    /// matched is the task name after the exec. Changing it at runtime needs no reload.
    pub filter: KernelFilterConfig,
}

impl Default for ExecSourceConfig {
    fn default() -> Self {
        Self {
            ring_buffer_bytes: 4 * 1024 * 1024,
            batch_max_events: 256,
            batch_timeout: Duration::from_millis(200),
            wakeup_events: 128,
            hook: HookChoice::Auto,
            filter: KernelFilterConfig::default(),
        }
    }
}

/// `hook` of the `exec` source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookChoice {
    /// The BTF tracepoint if it loads, else the classic tracepoint.
    #[default]
    Auto,
    /// Only `tp_btf/sched_process_exec` (direct reads of the task; cheapest).
    TpBtf,
    /// Only `tracepoint/sched/sched_process_exec` (works without kernel BTF).
    Tracepoint,
}

impl ExecSourceConfig {
    /// Every problem with the values, paths relative to the source (empty when valid). Checked
    /// again when the source starts.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        let rb = self.ring_buffer_bytes;
        problems.extend(validate_ring(
            rb,
            MIN_RING_BUFFER_BYTES,
            self.batch_max_events,
            self.batch_timeout,
        ));
        let backlog = u64::from(self.wakeup_events) * u64::from(RECORD_BYTES);
        if backlog >= u64::from(rb) {
            problems.push(ConfigError::new(
                "wakeup_events",
                format!(
                    "{} execs take {backlog} bytes, more than ring_buffer_bytes ({rb}) holds",
                    self.wakeup_events
                ),
            ));
        }
        // Paths come back as `filter::...` already.
        problems.extend(self.filter.validate(false));
        problems
    }
}
