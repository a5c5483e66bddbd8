//! Configuration of the `file_open` source.

use std::path::PathBuf;
use std::time::Duration;

use kotel_common::file_open::{MAX_PREFIXES, MAX_PREFIX_LEN};
use serde::{Deserialize, Serialize};

use crate::kernel::settings::{validate_ring, validate_wakeup_bytes};
use crate::settings::ConfigError;

use crate::kernel::filter::KernelFilterConfig;
use crate::settings::duration;

/// `sources.file_open`: opens (open, openat, openat2, creat) of watched files and
/// directories, matched in the kernel by what is opened; every other open is discarded
/// there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileOpenSourceConfig {
    /// Watched files and directories: absolute, 2 to 255 bytes, at most 1024. A file is
    /// watched by its inode (any name, hard link, symlink, relative path or mount that
    /// reaches it), a directory with everything below it, in the host and in every
    /// container's filesystem (each mount namespace resolves the path in its own root). A
    /// trailing `/` is optional. See docs/sources/file_open.md for what is caught.
    pub paths: Vec<String>,
    /// Where the host's filesystem is mounted, for a DaemonSet that mounts `/proc` at
    /// `<host_root>/proc`: mount namespaces are found there. Empty: this process's own
    /// `/proc`.
    pub host_root: PathBuf,
    /// How often the watched paths are resolved again in every mount namespace (new
    /// containers, replaced files). A change to a watched name in a directory already
    /// known is followed within milliseconds (inotify) regardless.
    #[serde(with = "duration")]
    pub rescan_interval: Duration,
    /// Size of the kernel ring buffer in bytes (a power of two, at least one page).
    pub ring_buffer_bytes: u32,
    /// Most events in one batch handed to the pipeline.
    pub batch_max_events: usize,
    /// Longest an event waits in a partial batch before it is sent.
    #[serde(with = "duration")]
    pub batch_timeout: Duration,
    /// When the kernel wakes the reader: `0` wakes it on every event (microseconds of
    /// kernel time each); a positive value wakes it once this many bytes (1632 per event)
    /// wait unread, and the reader otherwise polls every `batch_timeout / 4` (5 to 50 ms).
    /// Must be below `ring_buffer_bytes`.
    pub wakeup_bytes: u32,
    /// Which processes the kernel reports (cgroup ids, comms; no ports); see
    /// docs/configuration.md "Kernel filters". Changing it at runtime needs no reload.
    pub filter: KernelFilterConfig,
}

impl Default for FileOpenSourceConfig {
    fn default() -> Self {
        Self {
            paths: Vec::new(),
            host_root: PathBuf::new(),
            rescan_interval: Duration::from_secs(2),
            ring_buffer_bytes: 256 * 1024,
            batch_max_events: 256,
            batch_timeout: Duration::from_millis(200),
            wakeup_bytes: 16 * 1024,
            filter: KernelFilterConfig::default(),
        }
    }
}

impl FileOpenSourceConfig {
    /// The `/proc` mount namespaces are found in: `<host_root>/proc`, or `/proc`.
    pub fn proc_dir(&self) -> PathBuf {
        crate::node::process::host_proc(&self.host_root)
    }

    /// Every problem with the values, paths relative to the source (empty when valid). Checked
    /// again when the source starts. The default config is invalid: `paths` is empty.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if self.paths.is_empty() {
            problems.push(ConfigError::new(
                "paths",
                "must list at least one file or directory",
            ));
        }
        if self.paths.len() > MAX_PREFIXES as usize {
            problems.push(ConfigError::new(
                "paths",
                format!("{} paths; at most {MAX_PREFIXES}", self.paths.len()),
            ));
        }
        for (i, p) in self.paths.iter().enumerate() {
            let problem = if !p.starts_with('/') {
                format!("\"{p}\" is not absolute (must start with /)")
            } else if p.len() > MAX_PREFIX_LEN {
                format!("{} bytes long; at most {MAX_PREFIX_LEN}", p.len())
            } else if p.contains('\0') {
                "contains a NUL byte".to_string()
            } else if p.trim_end_matches('/').is_empty() {
                "\"/\" would report every open on the node; name a directory below it".to_string()
            } else {
                continue;
            };
            problems.push(ConfigError::new(format!("paths[{i}]"), problem));
        }
        if self.rescan_interval < Duration::from_millis(100) {
            problems.push(ConfigError::new(
                "rescan_interval",
                format!(
                    "{:?} is too short (at least 100ms): each pass resolves every path in every \
                     mount namespace",
                    self.rescan_interval
                ),
            ));
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
