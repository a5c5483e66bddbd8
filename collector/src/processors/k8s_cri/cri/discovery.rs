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
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn config(endpoint: &str, host_root: &std::path::Path) -> K8sCriConfig {
        K8sCriConfig {
            endpoint: endpoint.into(),
            host_root: host_root.into(),
            ..K8sCriConfig::default()
        }
    }

    #[test]
    fn auto_probes_the_well_known_sockets_under_the_host_root_in_order() {
        let root = tempfile::tempdir().unwrap();
        let paths = candidates(&config("auto", root.path()));
        assert_eq!(paths.len(), WELL_KNOWN_SOCKETS.len());
        assert_eq!(paths[0], root.path().join("run/containerd/containerd.sock"));
        assert!(paths.iter().all(|p| p.starts_with(root.path())));
    }

    #[test]
    fn only_sockets_count_and_an_explicit_endpoint_overrides() {
        let root = tempfile::tempdir().unwrap();
        let crio = root.path().join("run/crio/crio.sock");
        std::fs::create_dir_all(crio.parent().unwrap()).unwrap();
        let _listener = UnixListener::bind(&crio).unwrap();
        // A regular file where containerd's socket would be is not a runtime.
        let fake = root.path().join("run/containerd/containerd.sock");
        std::fs::create_dir_all(fake.parent().unwrap()).unwrap();
        std::fs::write(&fake, b"").unwrap();
        assert_eq!(
            present_sockets(&config("auto", root.path())),
            vec![crio.clone()]
        );

        let explicit = format!("unix://{}", fake.display());
        assert!(present_sockets(&config(&explicit, root.path())).is_empty());
        let explicit = format!("unix://{}", crio.display());
        assert_eq!(present_sockets(&config(&explicit, root.path())), vec![crio]);
    }
}
