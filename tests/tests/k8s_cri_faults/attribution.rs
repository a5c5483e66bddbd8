//! Attribution on a healthy runtime, and for how long containers that are gone keep it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_cri::v1::ContainerState;
use kotel::component::Processor;
use kotel::event::keys;
use kotel_integration_tests::fake_cri::{FakeContainer, FakeCri};

use super::rig::{
    assert_all_host, assert_host, attributes, container_of, one, tcp, until, until_attributed, Rig,
    NODE, WAIT,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_runtime_attributes_containers_and_only_the_node_to_host_events() {
    let rig = Rig::new("healthy");
    let app = rig.known("app", "web");
    let sidecar = rig.known("sidecar", "web");
    let root = rig.cgroup("/");
    let cron = rig.cgroup("/system.slice/cron.service");
    rig.process(100, "/system.slice/cron.service");
    rig.process(101, &app.spec.cgroups_path);
    let mut p = rig.start();

    let event = until_attributed(&mut p, &app, WAIT).await;
    let expected: BTreeMap<String, String> = [
        (keys::NODE_NAME, NODE),
        (keys::NAMESPACE, "default"),
        (keys::POD_NAME, "web"),
        (keys::POD_UID, &app.spec.pod_uid),
        (keys::CONTAINER_NAME, "app"),
        (keys::CONTAINER_ID, app.id()),
        (keys::IMAGE_NAME, "docker.io/library/busybox"),
        (keys::IMAGE_TAG, "1.36"),
        (keys::RUNTIME, "fake-cri"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(attributes(&event), expected);

    let other = one(&mut p, tcp(sidecar.cgroup, 0));
    assert_eq!(container_of(&other).as_deref(), Some(sidecar.id()));
    assert_eq!(attributes(&other)[keys::CONTAINER_NAME], "sidecar");
    // Proved by its process as well: the same container.
    let proved = one(&mut p, tcp(app.cgroup, 101));
    assert_eq!(attributes(&proved), expected);

    let (misses, hosts) = (rig.lookups("miss"), rig.lookups("host"));
    // Host cgroups with no process to look at, and a host process proved by /proc.
    assert_all_host(&mut p, &[root, cron], "a host cgroup");
    assert_host(&one(&mut p, tcp(cron, 100)), "a host process");
    assert_eq!(rig.lookups("miss") - misses, 2.0);
    assert_eq!(rig.lookups("host") - hosts, 1.0);
    assert!(rig.lookups("hit") >= 3.0);
    assert_eq!(rig.lookups("pending"), 0.0);
    assert_eq!(p.held(), 0);
    // An event whose source knew no cgroup is not looked up: node attributes only.
    assert_host(&one(&mut p, tcp(0, 102)), "no cgroup");
    assert_eq!(rig.lookups("no_cgroup"), 1.0);

    assert_eq!(rig.connected(), 1.0);
    assert_eq!(rig.cached(), 2.0);
    assert!(
        rig.calls("ok") >= 4.0,
        "Version, ListContainers, 2 ContainerStatus"
    );
    assert_eq!(rig.calls("error") + rig.calls("timeout"), 0.0);
}

/// `exited_grace` of the grace tests.
const GRACE: Duration = Duration::from_secs(1);

/// Makes `gone` go (exit or disappear) while `stays` runs, and checks that `gone` keeps
/// its attribution for [`GRACE`] after the runtime reported it, then loses it and does
/// not get it back over the next two resyncs.
async fn attributed_for_the_grace_only(test: &str, go: impl FnOnce(&FakeCri, &FakeContainer)) {
    let mut rig = Rig::new(test);
    rig.config.exited_grace = GRACE;
    let gone = rig.known("job", "batch");
    let stays = rig.known("app", "web");
    let mut p = rig.start();
    until_attributed(&mut p, &gone, WAIT).await;
    until_attributed(&mut p, &stays, WAIT).await;

    let changed = Instant::now();
    go(&rig.fake, &gone.spec);
    let mut last_attributed = changed;
    let stopped = until("the grace period ending", Duration::from_secs(5), || {
        let event = one(&mut p, tcp(gone.cgroup, 0));
        match container_of(&event) {
            Some(id) => {
                assert_eq!(id, gone.id());
                last_attributed = Instant::now();
                None
            }
            None => Some(Instant::now()),
        }
    })
    .await;
    // The runtime reports the change at the next resync (within 1 s); the grace runs
    // from then.
    let kept = last_attributed - changed;
    assert!(
        kept >= GRACE - Duration::from_millis(100),
        "kept for {kept:?} only"
    );
    assert!(
        stopped - changed < Duration::from_secs(4),
        "kept until {:?}",
        stopped - changed
    );

    let lists = rig.fake.calls("ListContainers");
    until("two more resyncs", WAIT, || {
        let event = one(&mut p, tcp(gone.cgroup, 0));
        let since = changed.elapsed();
        let again = container_of(&event);
        assert!(
            again.is_none(),
            "attributed again {since:?} after it went, its grace long over: {again:?}"
        );
        let running = one(&mut p, tcp(stays.cgroup, 0));
        assert_eq!(container_of(&running).as_deref(), Some(stays.id()));
        (rig.fake.calls("ListContainers") >= lists + 2).then_some(())
    })
    .await;
    assert_eq!(rig.cached(), 1.0, "only the running container stays cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_container_attributes_for_the_exited_grace_only() {
    attributed_for_the_grace_only("removed", |fake, gone| {
        fake.remove_container(&gone.id).expect("the container");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exited_container_attributes_for_the_exited_grace_only() {
    attributed_for_the_grace_only("exited", |fake, gone| {
        let mut all = fake.containers();
        for container in all.iter_mut().filter(|c| c.id == gone.id) {
            container.state = ContainerState::ContainerExited;
        }
        fake.set_containers(all);
    })
    .await;
}
