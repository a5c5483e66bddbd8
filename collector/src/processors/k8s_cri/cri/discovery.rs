//! Finding the node's container runtime socket.

use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

use crate::processors::k8s_cri::config::{Endpoint, K8sCriConfig};

/// The sockets `endpoint: auto` probes, in order, as host paths.
pub const WELL_KNOWN_SOCKETS: &[&str] = &[
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/k3s/containerd/containerd.sock",
    "/var/run/k3s/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/var/run/crio/crio.sock",
    "/run/cri-dockerd.sock",
    "/var/run/cri-dockerd.sock",
];

/// The sockets to try for `config`, in order: the configured one, or every well-known
/// socket under `host_root`.
pub fn candidates(config: &K8sCriConfig) -> Vec<PathBuf> {
    match config.endpoint() {
        Endpoint::Unix(path) => vec![path],
        Endpoint::Auto => WELL_KNOWN_SOCKETS
            .iter()
            .map(|path| config.on_host(path))
            .collect(),
    }
}

/// The candidates that exist and are sockets, in probe order. `/var/run` is usually a link
/// to `/run`, so the same socket may appear twice; callers try them in turn.
pub fn present_sockets(config: &K8sCriConfig) -> Vec<PathBuf> {
    candidates(config)
        .into_iter()
        .filter(|path| {
            std::fs::metadata(path)
                .map(|m| m.file_type().is_socket())
                .unwrap_or(false)
        })
        .collect()
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
