//! The node as kotel sees it: its name as Kubernetes knows it (for `k8s.node.name`), and
//! configured paths to the host's files.

use crate::settings::ConfigError;
use std::path::Path;

/// Environment variables that may carry the node name, in order (a DaemonSet sets one
/// from `spec.nodeName` through the downward API).
pub const NODE_NAME_VARIABLES: [&str; 2] = ["K8S_NODE_NAME", "NODE_NAME"];

/// `configured` when it is not empty, else the first non-empty variable of
/// [`NODE_NAME_VARIABLES`]; `None` when there is neither.
pub fn node_name(configured: &str) -> Option<String> {
    if !configured.is_empty() {
        return Some(configured.to_string());
    }
    NODE_NAME_VARIABLES
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
}

/// The kernel's host name (empty when it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// A problem for each configured host path (`host_root`,
/// `cgroup_root`, ...) that is set but not absolute; empty paths mean "find it" and pass.
pub fn relative_path_problems(fields: &[(&str, &Path)]) -> Vec<ConfigError> {
    fields
        .iter()
        .filter(|(_, path)| !path.as_os_str().is_empty() && !path.is_absolute())
        .map(|(field, path)| {
            ConfigError::new(
                *field,
                format!("{} must be an absolute path", path.display()),
            )
        })
        .collect()
}
