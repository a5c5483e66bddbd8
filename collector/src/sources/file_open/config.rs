//! Configuration of the `file_open` source.

use std::time::Duration;

use kotel_common::file_open::{MAX_PREFIXES, MAX_PREFIX_LEN};
use serde::{Deserialize, Serialize};

use crate::kernel::settings::{validate_ring, validate_wakeup_bytes};

use crate::config::duration;
use crate::sources::kernel_filter::KernelFilterConfig;

/// `sources.file_open`: opens (open, openat, openat2, creat) of watched paths, matched in
/// the kernel; every other open is discarded there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileOpenSourceConfig {
    /// Watched path prefixes: absolute, 1 to 255 bytes, at most 1024. An open is reported
    /// when its path argument starts with one of them, byte for byte: `/etc/shadow` also
    /// matches `/etc/shadow-`; end a directory with `/` (`/root/.ssh/`) to watch what is
    /// inside it. Paths are not resolved: relative paths, `..`, `//` and symlinks do not
    /// match a prefix they would lead to.
    pub paths: Vec<String>,
    /// Size of the kernel ring buffer in bytes (a power of two, at least one page).
    pub ring_buffer_bytes: u32,
    /// Most events in one batch handed to the pipeline.
    pub batch_max_events: usize,
    /// Longest an event waits in a partial batch before it is sent.
    #[serde(with = "duration")]
    pub batch_timeout: Duration,
    /// When the kernel wakes the reader: `0` wakes it on every event (microseconds of
    /// kernel time each); a positive value wakes it once this many bytes (328 per event)
    /// wait unread, and the reader otherwise polls every `batch_timeout / 4` (5 to 50 ms).
    /// Must be below `ring_buffer_bytes`.
    pub wakeup_bytes: u32,
    /// Which processes the kernel reports (cgroup ids, comms; no ports); see README
    /// "Kernel filters". Changing it at runtime needs no reload.
    pub filter: KernelFilterConfig,
}

impl Default for FileOpenSourceConfig {
    fn default() -> Self {
        Self {
            paths: Vec::new(),
            ring_buffer_bytes: 256 * 1024,
            batch_max_events: 256,
            batch_timeout: Duration::from_millis(200),
            wakeup_bytes: 16 * 1024,
            filter: KernelFilterConfig::default(),
        }
    }
}

impl FileOpenSourceConfig {
    /// Every problem with the values as `(field, message)` (empty when valid). Checked
    /// again when the source starts. The default config is invalid: `paths` is empty.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.paths.is_empty() {
            problems.push(("paths".into(), "must list at least one path prefix".into()));
        }
        if self.paths.len() > MAX_PREFIXES as usize {
            problems.push((
                "paths".into(),
                format!("{} prefixes; at most {MAX_PREFIXES}", self.paths.len()),
            ));
        }
        for (i, p) in self.paths.iter().enumerate() {
            let problem = if !p.starts_with('/') {
                format!("\"{p}\" is not absolute (must start with /)")
            } else if p.len() > MAX_PREFIX_LEN {
                format!("{} bytes long; at most {MAX_PREFIX_LEN}", p.len())
            } else if p.contains('\0') {
                "contains a NUL byte".to_string()
            } else {
                continue;
            };
            problems.push((format!("paths[{i}]"), problem));
        }
        problems.extend(validate_ring(
            self.ring_buffer_bytes,
            4096,
            self.batch_max_events,
            self.batch_timeout,
        ));
        problems.extend(validate_wakeup_bytes(
            self.wakeup_bytes,
            self.ring_buffer_bytes,
        ));
        problems.extend(self.filter.validate(false));
        problems
    }
}
