use super::*;

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Expands `<id>`, `<uid>` and `<uid_>` (the uid as kubelet escapes it in slices).
fn ids(s: &str) -> String {
    let uid = "5f7a9c1e-3b2d-4e6f-8a0b-1c2d3e4f5a6b";
    let uid_ = uid.replace('-', "_");
    s.replace("<id>", ID)
        .replace("<uid>", uid)
        .replace("<uid_>", &uid_)
}

#[test]
fn cgroups_paths_of_both_drivers() {
    let table = "\
/kubepods/besteffort/pod<uid>/<id>  /kubepods/besteffort/pod<uid>/<id>
/k8s.io/<id>  /k8s.io/<id>
 /kubepods//pod<uid>/./<id>/  /kubepods/pod<uid>/<id>
kubepods-besteffort-pod<uid_>.slice:cri-containerd:<id>  /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice/cri-containerd-<id>.scope
kubepods-pod<uid_>.slice:crio:<id>  /kubepods.slice/kubepods-pod<uid_>.slice/crio-<id>.scope
system.slice:docker:<id>  /system.slice/docker-<id>.scope
:cri-containerd:<id>  /system.slice/cri-containerd-<id>.scope
-.slice:p:n  /p-n.scope
kubepods.slice::kubepods-burstable.slice  /kubepods.slice/kubepods-burstable.slice";
    for (input, want) in table.lines().filter_map(|l| l.rsplit_once("  ")) {
        assert_eq!(
            container_cgroup_path(&ids(input)),
            Some(ids(want)),
            "{input}"
        );
    }
    let garbage = "/ //. /a/../b k8s.io/<id> a:b a.slice:p:n:x kubepods.slice:p: kubepods:p:n
        .slice:p:n a--b.slice:p:n -a.slice:p:n a-.slice:p:n a/b.slice:p:n a.slice:p:../n";
    for input in garbage.split_whitespace().chain(["", "  "]) {
        assert_eq!(container_cgroup_path(&ids(input)), None, "{input:?}");
    }
}

#[test]
fn container_ids_in_paths() {
    let named = "/kubepods/besteffort/pod<uid>/<id> /k8s.io/<id> /docker/<id> <id>
        /../../kubepods/pod<uid>/<id>
        /kubepods.slice/kubepods-pod<uid_>.slice/cri-containerd-<id>.scope
        /kubepods.slice/kubepods-pod<uid_>.slice/crio-<id>.scope
        /system.slice/docker-<id>.scope /kubepods.slice/cri-dockerd-<id>.scope
        /machine.slice/libpod-<id>.scope";
    for path in named.split_whitespace().map(ids) {
        assert_eq!(container_id_in_path(&path), Some(ID), "{path}");
        assert!(path_names_container(&path, ID), "{path}");
    }
    let not = "/ /init.scope /system.slice /kubepods/besteffort/pod<uid>
        /kubepods.slice/kubepods-pod<uid_>.slice /kubepods.slice/crio-conmon-<id>.scope
        /machine.slice/libpod-conmon-<id>.scope /user.slice/user-1000.slice/session-3.scope
        /k8s.io/<id>/ /k8s.io/<id>.scope /<id>/init.scope /system.slice/containerd-<id>.scope
        /k8s.io/0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef";
    let odd = [
        format!("/k8s.io/{ID}0"),
        ID[1..].to_string(),
        ID.to_uppercase(),
        "".into(),
    ];
    for path in not.split_whitespace().map(ids).chain(odd) {
        assert_eq!(container_id_in_path(&path), None, "{path}");
        assert!(!path_names_container(&path, ID), "{path}");
    }
    let other = ID.replace('0', "1");
    assert!(!path_names_container(&ids("/k8s.io/<id>"), &other));
}

#[test]
fn proc_cgroup_parse_and_pick() {
    let scope = ids("/kubepods.slice/cri-containerd-<id>.scope");
    let v2 = ProcCgroup::parse(&format!("0::{scope} (deleted)\n"));
    assert_eq!(
        (v2.unified.as_deref(), v2.container_path()),
        (Some(&*scope), Some(&*scope))
    );

    let text = "12:cpu,cpuacct:/kubepods/pod<uid>/<id>\n9:name=systemd:/\n\
                8:memory:/k8s.io/<id>\n5:rdma:/\n0::/\nbad line\n";
    let hybrid = ProcCgroup::parse(&ids(text));
    assert_eq!(hybrid.unified.as_deref(), Some("/"));
    assert_eq!(hybrid.v1.len(), 4);
    assert_eq!(hybrid.v1[1], ("name=systemd".into(), "/".into()));
    assert_eq!(hybrid.container_path(), Some(&*ids("/k8s.io/<id>")));

    let host = ProcCgroup::parse("0::/init.scope\n4:memory:/system.slice/x.service\n");
    assert_eq!(host.container_path(), None);
}

#[test]
fn proc_cgroup_read_from_fake_proc() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("4242")).unwrap();
    std::fs::write(root.path().join("4242/cgroup"), ids("0::/k8s.io/<id>\n")).unwrap();
    let pc = ProcCgroup::read(root.path(), 4242).unwrap();
    assert_eq!(pc.container_path().and_then(container_id_in_path), Some(ID));
    assert!(ProcCgroup::read(root.path(), 4243).is_err());
}
