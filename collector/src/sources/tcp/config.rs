//! Configuration of the `tcp` source.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::kernel::filter::KernelFilterConfig;
use crate::kernel::settings::{validate_ring, validate_wakeup_bytes};
use crate::settings::duration;
use crate::settings::node::relative_path_problems;
use crate::settings::ConfigError;

/// `sources.tcp`: TCP connect, accept, failed connect and close events from the kernel, and
/// per-cgroup RTT and connect-latency histograms and retransmit/reset counters aggregated
/// in the kernel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpSourceConfig {
    /// Size of the kernel ring buffer in bytes (a power of two, at least one page).
    pub ring_buffer_bytes: u32,
    /// How many sockets the kernel remembers an owner for at once; beyond it new sockets
    /// are not tracked (counted as `owner_map_full`) and their events carry pid 0. Both
    /// ends of a connection between two local processes count. The map is preallocated:
    /// ~144 bytes of kernel memory per entry (9 MiB for the default), charged to kotel's
    /// cgroup.
    pub max_tracked_sockets: u32,
    /// Most events in one batch handed to the pipeline.
    pub batch_max_events: usize,
    /// Longest an event waits in a partial batch before it is sent.
    #[serde(with = "duration")]
    pub batch_timeout: Duration,
    /// When the kernel wakes the reader: `0` wakes it on every event (the kernel's default
    /// policy, ~4-6 µs per event of kernel time on a VM); a positive value wakes it only once
    /// this many bytes (168 per event) wait unread, and the reader otherwise polls every
    /// `batch_timeout / 4` (5 to 50 ms): ~0.85 µs per event. The default (64 KiB, ~390
    /// events) costs ~7 % less per connection than 16 KiB (`scripts/bench.sh`) and leaves
    /// the reader 448 KiB of the default ring to fall behind by. Must be below
    /// `ring_buffer_bytes`.
    pub wakeup_bytes: u32,
    /// How often the kernel's histograms (`tcp_rtt`, `tcp_connect_latency`) and counters
    /// (retransmits, resets) are read and reset; each read emits one record per cgroup
    /// and metric covering exactly the time since the previous read. At most 5 minutes
    /// (the kernel's per-CPU bucket counters are 32-bit).
    #[serde(with = "duration")]
    pub metrics_interval: Duration,
    /// Histogram rows per CPU and interval (a power of two): each (cgroup, metric) with
    /// samples on a CPU in an interval takes one (568 bytes per CPU, twice for the double
    /// buffer: 512 rows = 1.1 MiB per CPU). When the probed rows are taken, samples are
    /// lost and counted as `agg_map_full`; keep it at about twice the cgroups with TCP
    /// traffic. Per-cgroup counters get the same number of entries.
    pub histogram_rows: u32,
    /// Which processes and ports the kernel reports (cgroup ids, comms, ports); see
    /// docs/configuration.md "Kernel filters". Changing it at runtime needs no reload. Applies to the
    /// histograms and counters too.
    pub filter: KernelFilterConfig,
    /// Where the host's cgroup2 hierarchy is mounted: the filter's `cgroup_paths` are
    /// resolved below it. Empty: the cgroup2
    /// mount in `/proc/self/mountinfo` that shows the hierarchy's root (in a container with
    /// a cgroup namespace, the host's hierarchy mounted e.g. at `/host/sys/fs/cgroup`).
    pub cgroup_root: PathBuf,
}

/// Shortest `metrics_interval`: each read flips the double buffer and waits for programs
/// still writing the old phase.
pub const MIN_METRICS_INTERVAL: Duration = Duration::from_millis(100);
/// Longest `metrics_interval`: 32-bit per-CPU bucket counts cannot wrap within it even at
/// 10 million samples a second into one bucket.
pub const MAX_METRICS_INTERVAL: Duration = Duration::from_secs(300);
/// Fewest `histogram_rows`.
const MIN_ROWS: u32 = 16;
/// Most `histogram_rows` (per-CPU memory: 65536 rows = 71 MiB per CPU).
const MAX_ROWS: u32 = 65_536;

impl Default for TcpSourceConfig {
    fn default() -> Self {
        Self {
            ring_buffer_bytes: 512 * 1024,
            max_tracked_sockets: 65_536,
            batch_max_events: 512,
            batch_timeout: Duration::from_millis(200),
            wakeup_bytes: 64 * 1024,
            metrics_interval: Duration::from_secs(15),
            histogram_rows: 512,
            filter: KernelFilterConfig::default(),
            cgroup_root: PathBuf::new(),
        }
    }
}

impl TcpSourceConfig {
    /// Every problem with the values, paths relative to the source (empty when valid). Checked
    /// again when the source starts.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut problems = validate_ring(
            self.ring_buffer_bytes,
            4096,
            self.batch_max_events,
            self.batch_timeout,
        );
        problems.extend(validate_wakeup_bytes(
            self.wakeup_bytes,
            self.ring_buffer_bytes,
        ));
        if self.max_tracked_sockets == 0 {
            problems.push(ConfigError::new(
                "max_tracked_sockets",
                "must be at least 1",
            ));
        }
        problems.extend(self.filter.validate(true));
        problems.extend(relative_path_problems(&[(
            "cgroup_root",
            &self.cgroup_root,
        )]));
        if !(MIN_METRICS_INTERVAL..=MAX_METRICS_INTERVAL).contains(&self.metrics_interval) {
            problems.push(ConfigError::new(
                "metrics_interval",
                format!(
                    "{:?} is outside {MIN_METRICS_INTERVAL:?}..={MAX_METRICS_INTERVAL:?}",
                    self.metrics_interval
                ),
            ));
        }
        let rows = self.histogram_rows;
        if !rows.is_power_of_two() || !(MIN_ROWS..=MAX_ROWS).contains(&rows) {
            problems.push(ConfigError::new(
                "histogram_rows",
                format!("{rows} is not a power of two in {MIN_ROWS}..={MAX_ROWS}"),
            ));
        }
        problems
    }
}
