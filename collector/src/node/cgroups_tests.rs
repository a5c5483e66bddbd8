use super::*;

/// This machine's layout: v1 controllers, a tmpfs at /sys/fs/cgroup, cgroup2 inside.
const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 23 0:39 / /sys/fs/bpf rw,relatime - bpf bpf rw
";

fn mount(at: &str, root: &str, ctrl: &[&str]) -> CgroupMount {
    CgroupMount::new(
        at.into(),
        root,
        ctrl.iter().map(|c| c.to_string()).collect(),
    )
}

#[test]
fn mountinfo_layouts() {
    let hybrid = CgroupRoots::from_mountinfo(HYBRID);
    assert_eq!(hybrid.layout(), CgroupLayout::Hybrid);
    assert_eq!(
        hybrid.unified,
        Some(mount("/sys/fs/cgroup/unified", "/", &[]))
    );
    let cpu = mount("/sys/fs/cgroup/cpu,cpuacct", "/", &["cpu", "cpuacct"]);
    let systemd = mount("/sys/fs/cgroup/systemd", "/", &["name=systemd"]);
    assert_eq!(
        (hybrid.v1.len(), &hybrid.v1[0], &hybrid.v1[3]),
        (4, &cpu, &systemd)
    );

    let v2 = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate";
    let v2 = CgroupRoots::from_mountinfo(v2);
    assert_eq!(v2.layout(), CgroupLayout::Unified);
    assert_eq!(v2.unified, Some(mount("/sys/fs/cgroup", "/", &[])));

    let legacy = HYBRID.replace("cgroup2 cgroup2", "ext4 /dev/vdb");
    let legacy = CgroupRoots::from_mountinfo(&legacy);
    assert_eq!(legacy.layout(), CgroupLayout::Legacy);
    assert_eq!(legacy.v1, hybrid.v1);
    let none = CgroupRoots::from_mountinfo("garbage\n1 2 3\n27 1 254:0 / / rw - ext4 vda rw");
    assert_eq!(none.layout(), CgroupLayout::None);

    // Escaped mount points; a whole-hierarchy mount beats an earlier subtree mount.
    let escaped = "\
50 1 0:40 /kubepods /host/sub rw - cgroup2 none rw
51 1 0:40 / /mnt/my\\040cgroup\\134x rw - cgroup2 none rw
52 1 0:41 /a /mnt/m1 rw - cgroup cgroup rw,memory
53 1 0:41 / /mnt/m2 rw - cgroup cgroup rw,memory
";
    let roots = CgroupRoots::from_mountinfo(escaped);
    assert_eq!(roots.unified, Some(mount("/mnt/my cgroup\\x", "/", &[])));
    assert_eq!(roots.v1, vec![mount("/mnt/m2", "/", &["memory"])]);
}

#[test]
fn in_a_cgroup_namespace_the_mount_that_shows_the_hosts_root_wins() {
    // A DaemonSet pod: its own namespaced /sys/fs/cgroup, and the host's hierarchy
    // bind-mounted at /host/sys/fs/cgroup (shown relative to the pod's namespace).
    let pod = "\
40 30 0:26 / /sys/fs/cgroup ro - cgroup2 cgroup rw
41 30 0:26 /../../.. /host/sys/fs/cgroup ro - cgroup2 cgroup rw
";
    let host = Path::new("/host/sys/fs/cgroup");
    let roots = CgroupRoots::from_mountinfo_preferring(pod, |p| p == host);
    assert_eq!(roots.unified, Some(mount("/host/sys/fs/cgroup", "/", &[])));
    assert_eq!(
        roots.unified.unwrap().dir("/kubepods/pod1/abc"),
        Some(PathBuf::from("/host/sys/fs/cgroup/kubepods/pod1/abc"))
    );
    // Without that knowledge the namespace's own view is taken, as before.
    let plain = CgroupRoots::from_mountinfo(pod);
    assert_eq!(plain.unified, Some(mount("/sys/fs/cgroup", "/", &[])));
}

#[test]
fn container_dirs_per_layout() {
    let rel = "/kubepods/pod5f7a9c1e/0123456789abcdef".to_string();
    let at = |h: &str| PathBuf::from(format!("/sys/fs/cgroup/{h}{rel}"));
    let hybrid = CgroupRoots::from_mountinfo(HYBRID);
    assert_eq!(hybrid.container_dirs(&rel), [at("unified")]);
    assert!(hybrid.container_dirs("/kubepods/../etc").is_empty());

    let legacy = CgroupRoots {
        unified: None,
        ..hybrid
    };
    let want = [at("pids"), at("memory"), at("cpu,cpuacct"), at("systemd")];
    assert_eq!(legacy.container_dirs(&rel), want);

    let custom = CgroupRoots::with_unified("/host/cg");
    assert_eq!(custom.layout(), CgroupLayout::Unified);
    assert_eq!(
        custom.container_dirs("/k8s.io/x"),
        [PathBuf::from("/host/cg/k8s.io/x")]
    );

    let sub = mount("/cg", "/kubepods", &[]);
    assert_eq!(
        sub.dir("/kubepods/pod1/c"),
        Some(PathBuf::from("/cg/pod1/c"))
    );
    assert_eq!(
        (sub.dir("/system.slice/c"), sub.dir("/kubepodsX/c")),
        (None, None)
    );
}

#[test]
fn cgroup_id_is_the_inode() {
    let dir = tempfile::tempdir().unwrap();
    let c = std::ffi::CString::new(dir.path().as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a NUL-terminated path and `st` a plain C struct stat fills in.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::stat(c.as_ptr(), &mut st) }, 0);
    assert_eq!(cgroup_id(dir.path()).unwrap(), st.st_ino);
    let file = dir.path().join("f");
    std::fs::write(&file, "").unwrap();
    assert_eq!(
        cgroup_id(&file).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}

/// On this machine (and any cgroup2 host): our own unified cgroup has an id.
#[test]
fn discover_this_machine() {
    let roots = CgroupRoots::discover().unwrap();
    assert!(roots.unified.is_some(), "no cgroup2 mount in {roots:?}");
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let unified = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    let dirs = roots.container_dirs(unified);
    assert!(cgroup_id(&dirs[0]).unwrap() > 0);
}

#[test]
fn a_configured_root_wins_without_looking_at_mounts() {
    assert_eq!(
        cgroup2_root(Path::new("/host/sys/fs/cgroup")),
        Some(PathBuf::from("/host/sys/fs/cgroup"))
    );
}

#[test]
fn a_directory_with_cgroup_type_is_not_the_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cgroup.procs"), "").unwrap();
    assert!(is_hierarchy_root(dir.path()));
    std::fs::write(dir.path().join("cgroup.type"), "domain\n").unwrap();
    assert!(!is_hierarchy_root(dir.path()));
}

#[test]
fn without_a_mount_that_shows_the_root_a_whole_hierarchy_mount_wins_then_the_first() {
    // A pod's namespaced view and a subtree mount listed before it; neither shows the
    // hierarchy's root, so the whole-hierarchy (root `/`) one is taken.
    let mounts = "\
39 30 0:26 /kubepods /mnt/sub ro - cgroup2 cgroup rw
40 30 0:26 / /sys/fs/cgroup ro - cgroup2 cgroup rw
";
    let roots = CgroupRoots::from_mountinfo_preferring(mounts, |_| false);
    assert_eq!(roots.unified, Some(mount("/sys/fs/cgroup", "/", &[])));
    // Two whole-hierarchy mounts: the first listed.
    let two = "\
40 30 0:26 / /sys/fs/cgroup ro - cgroup2 cgroup rw
41 30 0:26 / /host/sys/fs/cgroup ro - cgroup2 cgroup rw
";
    let roots = CgroupRoots::from_mountinfo_preferring(two, |_| false);
    assert_eq!(roots.unified, Some(mount("/sys/fs/cgroup", "/", &[])));
    let shown =
        CgroupRoots::from_mountinfo_preferring(two, |p| p == Path::new("/host/sys/fs/cgroup"));
    assert_eq!(shown.unified, Some(mount("/host/sys/fs/cgroup", "/", &[])));
}
