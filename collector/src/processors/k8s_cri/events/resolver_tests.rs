use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::event::{keys, Workload};

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A fake host: `proc/<pid>/cgroup` files and a unified hierarchy of real directories.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn unified(&self) -> std::path::PathBuf {
        self.dir.path().join("cg")
    }
    /// Creates cgroup `path`, returns its id.
    fn cgroup(&self, path: &str) -> u64 {
        let dir = self.unified().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        crate::node::cgroups::cgroup_id(&dir).unwrap()
    }
    fn process(&self, pid: u32, text: &str) {
        let dir = self.dir.path().join(format!("proc/{pid}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("cgroup"), text).unwrap();
    }
    fn exit(&self, pid: u32) {
        std::fs::remove_dir_all(self.dir.path().join(format!("proc/{pid}"))).unwrap();
    }
    fn resolver(&self, unified: bool) -> Resolver {
        let roots = if unified {
            CgroupRoots::with_unified(self.unified())
        } else {
            CgroupRoots::from_mountinfo(&format!(
                "30 25 0:26 / {} rw - cgroup cgroup rw,pids\n",
                self.dir.path().join("pids").display()
            ))
        };
        Resolver::new(self.dir.path().join("proc"), roots, None)
    }
}

fn origin(cgroup_id: u64, pid: u32) -> Origin {
    Origin { cgroup_id, pid }
}

fn snapshot_with(id: &str, cgroup: Option<u64>) -> Snapshot {
    let w = Arc::new(Workload::from_pairs([(keys::CONTAINER_ID, id)]));
    let mut s = Snapshot::default();
    s.by_container.insert(id.into(), w.clone());
    if let Some(c) = cgroup {
        s.by_cgroup.insert(c, w);
    }
    s
}

fn container_of(r: &Resolution) -> Option<&str> {
    match r {
        Resolution::Container(w) => w.get(keys::CONTAINER_ID),
        _ => None,
    }
}

fn resolve(r: &mut Resolver, s: &Snapshot, o: Origin) -> (Resolution, Vec<Request>) {
    let mut asked = Vec::new();
    let out = r.resolve(s, o, Instant::now(), &mut |req| asked.push(req));
    (out, asked)
}

#[test]
fn a_known_cgroup_id_is_a_hit_without_touching_proc() {
    let host = Host::new();
    let mut r = host.resolver(true);
    let (out, asked) = resolve(&mut r, &snapshot_with(A, Some(42)), origin(42, 999));
    assert_eq!(container_of(&out), Some(A));
    assert!(asked.is_empty());
}

#[test]
fn an_unknown_container_cgroup_is_proved_through_proc_learned_and_described() {
    let host = Host::new();
    let path = format!("/kubepods/besteffort/pod1/{A}");
    let id = host.cgroup(&path);
    host.process(10, &format!("0::{path}\n"));
    let mut r = host.resolver(true);
    let (out, asked) = resolve(&mut r, &Snapshot::default(), origin(id, 10));
    assert_eq!(out, Resolution::Pending(Awaited::Container(A.into())));
    assert!(asked.contains(&Request::Describe(A.into())));
    assert!(asked.contains(&Request::Learned {
        container_id: A.into(),
        cgroup_id: id
    }));
    // Proved by cgroup id: still known after the process is gone.
    host.exit(10);
    let (out, _) = resolve(&mut r, &snapshot_with(A, None), origin(id, 11));
    assert_eq!(container_of(&out), Some(A));
    // Never the wrong container: B being known does not make A's event B's.
    let (out, _) = resolve(&mut r, &snapshot_with(B, None), origin(id, 11));
    assert_eq!(out, Resolution::Pending(Awaited::Container(A.into())));
}

#[test]
fn host_processes_are_host_and_unprovable_events_are_unknown() {
    let host = Host::new();
    let svc = host.cgroup("/system.slice/sshd.service");
    host.process(20, "0::/system.slice/sshd.service\n");
    let mut r = host.resolver(true);
    assert_eq!(
        resolve(&mut r, &Snapshot::default(), origin(svc, 20)).0,
        Resolution::Host
    );
    host.exit(20);
    assert_eq!(
        resolve(&mut r, &Snapshot::default(), origin(svc, 21)).0,
        Resolution::Host
    );

    // Gone before it could be looked at: wait for a resync to find the cgroup's owner.
    let other = host.cgroup("/other");
    let (out, asked) = resolve(&mut r, &Snapshot::default(), origin(other, 22));
    assert_eq!(out, Resolution::Pending(Awaited::Cgroup(other)));
    assert_eq!(asked, [Request::Resync]);
    // A per-cgroup aggregate (pid 0) has no process to look at.
    assert_eq!(
        resolve(&mut r, &Snapshot::default(), origin(other, 0)).0,
        Resolution::Unknown
    );

    // Moved to a container cgroup since the event: its cgroup id does not match, so the
    // event is not given to that container.
    let path = format!("/k8s.io/{A}");
    host.cgroup(&path);
    host.process(23, &format!("0::{path}\n"));
    let (out, asked) = resolve(&mut r, &Snapshot::default(), origin(svc + 1_000_000, 23));
    assert_eq!(out, Resolution::Unknown);
    assert!(asked.is_empty());
}

#[test]
fn without_a_unified_hierarchy_answers_come_from_v1_paths_per_pid() {
    let host = Host::new();
    host.process(30, &format!("12:pids:/kubepods/besteffort/pod1/{A}\n"));
    host.process(31, "12:pids:/user.slice\n");
    let mut r = host.resolver(false);
    assert_eq!(
        resolve(&mut r, &snapshot_with(A, None), origin(1, 30)).0,
        Resolution::Container(snapshot_with(A, None).by_container[A].clone())
    );
    assert_eq!(
        resolve(&mut r, &Snapshot::default(), origin(1, 31)).0,
        Resolution::Host
    );
    let _ = Duration::ZERO;
    let _ = Path::new("");
}

#[test]
fn with_the_birth_watch_a_born_cgroup_needs_no_process_and_others_are_not_held() {
    use crate::processors::k8s_cri::births::{Birth, BornCgroups};
    let host = Host::new();
    let born = Arc::new(BornCgroups::default());
    let container = host.cgroup(&format!("/kubepods/besteffort/pod1/{A}"));
    born.insert(&Birth {
        container_id: A.into(),
        cgroup_id: container,
    });
    let roots = CgroupRoots::with_unified(host.unified());
    let mut r = Resolver::new(host.dir.path().join("proc"), roots, Some(born));
    // The process is long gone: the birth still proves the container.
    let (out, asked) = resolve(&mut r, &snapshot_with(A, None), origin(container, 50));
    assert_eq!(container_of(&out), Some(A));
    assert!(asked.is_empty());
    // A cgroup that was never born under the container subtrees, process gone: a
    // transient host scope, not held and no resync asked.
    let scope = host.cgroup("/system.slice/run-1.scope");
    let (out, asked) = resolve(&mut r, &Snapshot::default(), origin(scope, 51));
    assert_eq!(out, Resolution::Unknown);
    assert!(asked.is_empty());
}
