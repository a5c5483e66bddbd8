use super::*;
use std::sync::mpsc;
use std::time::Duration;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn existing_and_new_container_directories_are_reported_with_their_inode() {
    let root = tempfile::tempdir().unwrap();
    let early = format!("kubepods/besteffort/pod1/{}", ID.replace('0', "e"));
    std::fs::create_dir_all(root.path().join(&early)).unwrap();
    std::fs::create_dir_all(root.path().join("system.slice/sshd.service")).unwrap();
    let (tx, rx) = mpsc::channel();
    let watch = BirthWatch::start(root.path().into(), move |b| {
        let _ = tx.send(b);
    })
    .unwrap();
    let first = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(first.container_id, ID.replace('0', "e"));

    // A whole new pod and container appear at once, as the runtime makes them.
    let late = root.path().join(format!("kubepods/burstable/pod2/{ID}"));
    std::fs::create_dir_all(&late).unwrap();
    let second = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(second.container_id, ID);
    assert_eq!(second.cgroup_id, std::fs::metadata(&late).unwrap().ino());

    // Host cgroups and non-container names are never reported.
    std::fs::create_dir_all(root.path().join(format!("system.slice/{ID}"))).unwrap();
    std::fs::create_dir_all(root.path().join("kubepods/besteffort/pod3")).unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
    drop(watch);
}
