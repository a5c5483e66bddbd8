//! Configuration of the `k8s_cri` processor.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::duration;
use crate::settings::node::relative_path_problems;
use crate::settings::ConfigError;

/// `processors.k8s_cri`: attributes events to containers, pods and namespaces through the
/// node's container runtime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct K8sCriConfig {
    /// `auto` probes the well-known runtime sockets (containerd, k3s, CRI-O, cri-dockerd)
    /// under `host_root`; `unix:///path/to.sock` uses that socket only.
    pub endpoint: String,
    /// Where the host's filesystem is mounted, for a DaemonSet that mounts `/` at `/host`:
    /// prefixes the auto-discovered sockets and `/proc`. Empty: this process's own root.
    pub host_root: PathBuf,
    /// The unified (cgroup v2) hierarchy's mount point; empty: found in
    /// `/proc/self/mountinfo`.
    pub cgroup_root: PathBuf,
    /// `k8s.node.name` on every event; empty: `$K8S_NODE_NAME`, `$NODE_NAME`, else the
    /// host name.
    pub node_name: String,
    /// Pod labels copied onto events as `k8s.pod.label.<key>`; none by default.
    pub pod_labels: Vec<String>,
    /// Longest any one CRI call may take.
    #[serde(with = "duration")]
    pub call_timeout: Duration,
    /// How often the whole container list is read again (also the fallback when the
    /// runtime has no event stream).
    #[serde(with = "duration")]
    pub resync_interval: Duration,
    /// How long an event of a container the runtime has not described yet is held back
    /// waiting for it; `0s` never holds.
    #[serde(with = "duration")]
    pub hold: Duration,
    /// Most events held back at once; beyond it events pass unattributed (counted).
    pub hold_max_events: usize,
    /// How long a container that exited or was removed keeps attributing its last events.
    #[serde(with = "duration")]
    pub exited_grace: Duration,
    /// Most containers cached; beyond it the longest-gone ones are evicted (counted).
    pub max_containers: usize,
    /// Watch the cgroup v2 container subtrees (`kubepods*`, `k8s.io`) with inotify, so a
    /// container that exits within milliseconds is still mapped; off, such events wait
    /// for a resync and may go unattributed. One inotify watch per directory there.
    pub watch_cgroups: bool,
}

impl Default for K8sCriConfig {
    fn default() -> Self {
        Self {
            endpoint: "auto".into(),
            host_root: PathBuf::new(),
            cgroup_root: PathBuf::new(),
            node_name: String::new(),
            pod_labels: Vec::new(),
            call_timeout: Duration::from_secs(2),
            resync_interval: Duration::from_secs(10),
            hold: Duration::from_millis(500),
            hold_max_events: 10_000,
            exited_grace: Duration::from_secs(60),
            max_containers: 10_000,
            watch_cgroups: true,
        }
    }
}

/// Where to find the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Probe the well-known sockets.
    Auto,
    /// This socket only.
    Unix(PathBuf),
}

impl Endpoint {
    /// Parses `auto` or `unix:///absolute/path`.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        if text == "auto" {
            return Ok(Endpoint::Auto);
        }
        let Some(path) = text.strip_prefix("unix://") else {
            return Err(format!(
                "\"{text}\" is not an endpoint: use auto or unix:///path/to/runtime.sock"
            ));
        };
        if !Path::new(path).is_absolute() {
            return Err(format!(
                "\"{text}\" needs an absolute socket path, as in unix:///run/containerd/containerd.sock"
            ));
        }
        Ok(Endpoint::Unix(PathBuf::from(path)))
    }
}

impl K8sCriConfig {
    /// Problems, with paths relative to the processor.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if let Err(e) = Endpoint::parse(&self.endpoint) {
            problems.push(ConfigError::new("endpoint", e));
        }
        problems.extend(relative_path_problems(&[
            ("host_root", &self.host_root),
            ("cgroup_root", &self.cgroup_root),
        ]));
        for (i, label) in self.pod_labels.iter().enumerate() {
            if label.trim().is_empty() {
                problems.push(ConfigError::new(
                    format!("pod_labels[{i}]"),
                    "a label key cannot be empty",
                ));
            } else if self.pod_labels[..i].contains(label) {
                problems.push(ConfigError::new(
                    format!("pod_labels[{i}]"),
                    format!("\"{label}\" is listed twice"),
                ));
            }
        }
        let timing = [
            (
                "call_timeout",
                self.call_timeout,
                Duration::from_millis(10),
                Duration::from_secs(60),
            ),
            (
                "resync_interval",
                self.resync_interval,
                Duration::from_secs(1),
                Duration::from_secs(3600),
            ),
            ("hold", self.hold, Duration::ZERO, Duration::from_secs(10)),
            (
                "exited_grace",
                self.exited_grace,
                Duration::ZERO,
                Duration::from_secs(3600),
            ),
        ];
        for (field, value, min, max) in timing {
            if value < min || value > max {
                problems.push(ConfigError::new(
                    field,
                    format!(
                        "must be between {} and {}",
                        duration::format(min),
                        duration::format(max)
                    ),
                ));
            }
        }
        for (field, value) in [
            ("hold_max_events", self.hold_max_events),
            ("max_containers", self.max_containers),
        ] {
            if value == 0 {
                problems.push(ConfigError::new(field, "must be at least 1"));
            }
        }
        problems
    }

    /// The endpoint; the config must have passed validation.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::parse(&self.endpoint).unwrap_or(Endpoint::Auto)
    }

    /// `path` as seen through `host_root`.
    pub fn on_host(&self, path: &str) -> PathBuf {
        if self.host_root.as_os_str().is_empty() {
            PathBuf::from(path)
        } else {
            self.host_root.join(path.trim_start_matches('/'))
        }
    }

    /// The node name: the configured one, else `$K8S_NODE_NAME`, `$NODE_NAME`, else the
    /// kernel's host name.
    pub fn resolved_node_name(&self) -> String {
        crate::settings::node::node_name(&self.node_name)
            .unwrap_or_else(crate::settings::node::host_name)
    }
}
