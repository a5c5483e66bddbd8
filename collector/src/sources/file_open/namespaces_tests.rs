use super::*;

#[test]
fn this_process_root_is_always_there() {
    let roots = roots(Path::new("/nonexistent-proc"));
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0].path, PathBuf::from("/proc/self/root"));
}

#[test]
fn each_mount_namespace_appears_once() {
    let roots = roots(Path::new("/proc"));
    let namespaces: BTreeSet<u64> = roots.iter().map(|r| r.mnt_ns).collect();
    assert_eq!(namespaces.len(), roots.len(), "{roots:?}");
    let own = mount_namespace(Path::new("/proc"), "self").expect("own namespace");
    assert!(namespaces.contains(&own), "{roots:?}");
}
