use super::*;

#[test]
fn reads_each_field_decodes_escapes_and_skips_garbage() {
    let text = "\
garbage
41 30 0:26 /../.. /host/sys/fs/cgroup ro - cgroup2 cgroup rw,nsdelegate
42 23 0:39 / /mnt/my\\040bpf\\134x rw,relatime shared:9 - bpf bpf rw
";
    let mounts = parse(text);
    assert_eq!(mounts.len(), 2);
    assert_eq!(mounts[0].root, "/../..");
    assert_eq!(mounts[0].mount_point, PathBuf::from("/host/sys/fs/cgroup"));
    assert_eq!(mounts[0].fs_type, "cgroup2");
    assert_eq!(mounts[0].super_options, "rw,nsdelegate");
    assert_eq!(mounts[1].mount_point, PathBuf::from("/mnt/my bpf\\x"));
    assert_eq!(mounts[1].fs_type, "bpf");
}

#[test]
fn this_machine_has_a_root_mount() {
    assert!(read()
        .unwrap()
        .iter()
        .any(|m| m.mount_point == Path::new("/")));
    assert_eq!(fs_type_at(Path::new("/proc")).as_deref(), Some("proc"));
}
