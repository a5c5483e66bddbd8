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
