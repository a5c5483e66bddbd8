//! Configuration of the `l7` source.

use std::path::PathBuf;
use std::time::Duration;

use kotel_common::l7::CAPTURE_MAX;
use serde::{Deserialize, Serialize};

use super::route::Routes;
use crate::kernel::filter::KernelFilterConfig;
use crate::kernel::settings::validate_ring;
use crate::settings::{duration, ConfigError};

/// Smallest ring buffer accepted.
pub const MIN_RING_BUFFER_BYTES: u32 = 64 * 1024;
/// Fewest bytes captured per read or write (a request line and a few headers).
pub const MIN_CAPTURE_BYTES: u32 = 64;

/// `sources.l7`: HTTP/1.x requests and responses read from socket syscalls, one event per
/// exchange (a span and RED metrics downstream).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct L7SourceConfig {
    /// Size of the kernel ring buffer in bytes: a power of two, at least 65536. A request
    /// and its response take two records of 64 bytes plus what is captured of each.
    pub ring_buffer_bytes: u32,
    /// Most events in one batch handed to the pipeline.
    pub batch_max_events: usize,
    /// Longest an event waits in a partial batch before it is sent.
    #[serde(with = "duration")]
    pub batch_timeout: Duration,
    /// Bytes copied from the start of every read and write on a followed connection: 64 to
    /// 4096. Heads longer than this are parsed as far as they were captured (their body is
    /// then not followed).
    pub capture_bytes: u32,
    /// How long a request waits for its response; then it ends as an error
    /// (`error.type=timeout`).
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// How long a connection with no request pending stays followed without a read or
    /// write (its process may have exited without closing it). At least `request_timeout`.
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// Connections followed at once in user space; more are not followed (counted).
    pub max_connections: usize,
    /// `http.route` patterns tried in order before the identifier heuristic: segments
    /// separated by `/`, `{name}` matches one segment, a final `*` the rest
    /// (`/api/users/{id}`, `/static/*`).
    pub routes: Vec<String>,
    /// Where the host's `/proc` is mounted, to know the agent's own pid (its own
    /// connections are not followed): `<host_root>/proc`. Empty: this process's `/proc`.
    pub host_root: PathBuf,
    /// Which processes and ports are followed (cgroup ids or paths, comms, local or remote
    /// ports). Changing it at runtime needs no reload; it applies to new connections.
    pub filter: KernelFilterConfig,
}

impl Default for L7SourceConfig {
    fn default() -> Self {
        Self {
            ring_buffer_bytes: 8 * 1024 * 1024,
            batch_max_events: 512,
            batch_timeout: Duration::from_millis(200),
            capture_bytes: 1024,
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            max_connections: 65536,
            routes: Vec::new(),
            host_root: PathBuf::new(),
            filter: KernelFilterConfig::default(),
        }
    }
}

impl L7SourceConfig {
    /// The `/proc` of the host: `<host_root>/proc`, or `/proc`.
    pub fn proc_dir(&self) -> PathBuf {
        crate::node::process::host_proc(&self.host_root)
    }

    /// Every problem with the values, paths relative to the source (empty when valid).
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut problems = validate_ring(
            self.ring_buffer_bytes,
            MIN_RING_BUFFER_BYTES,
            self.batch_max_events,
            self.batch_timeout,
        );
        if !(MIN_CAPTURE_BYTES..=CAPTURE_MAX as u32).contains(&self.capture_bytes) {
            problems.push(ConfigError::new(
                "capture_bytes",
                format!(
                    "{} is outside {MIN_CAPTURE_BYTES}..={CAPTURE_MAX}",
                    self.capture_bytes
                ),
            ));
        }
        if self.request_timeout.is_zero() {
            problems.push(ConfigError::new("request_timeout", "must be above 0"));
        }
        if self.idle_timeout < self.request_timeout {
            problems.push(ConfigError::new(
                "idle_timeout",
                format!(
                    "{:?} is shorter than request_timeout ({:?})",
                    self.idle_timeout, self.request_timeout
                ),
            ));
        }
        if self.max_connections == 0 {
            problems.push(ConfigError::new("max_connections", "must be at least 1"));
        }
        problems.extend(Routes::new(&self.routes).1);
        problems.extend(self.filter.validate(true));
        problems
    }
}
