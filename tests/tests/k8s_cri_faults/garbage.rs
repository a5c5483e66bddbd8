//! Answers of the right type with wrong content: refused with a counted reason, never
//! attributing an event to a container it does not belong to.

use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use kotel::component::{Processor, Release};
use kotel::event::keys;
use kotel_integration_tests::fake_cri::{FakeContainer, Fault, Garbage};

use super::rig::{
    assert_all_host, assert_container_or_host, assert_host, attributes, container_of, one, tcp,
    until, until_attributed, Rig, WAIT,
};

/// Polls until `rig`'s runtime has been listed `n` more times, checking `each` between.
async fn over_resyncs(rig: &Rig, n: u64, mut each: impl FnMut()) {
    let lists = rig.fake.calls("ListContainers");
    until("resyncs", WAIT, || {
        each();
        (rig.fake.calls("ListContainers") >= lists + n).then_some(())
    })
    .await;
}

/// Every container's cgroupsPath is `path`, which names no container.
async fn cgroups_path_naming_no_container(test: &str, path: &'static str) {
    let rig = Rig::new(test);
    let app = rig.known("app", "web");
    let root = rig.cgroup("/");
    let slice = rig.cgroup("/system.slice");
    let cron = rig.cgroup("/system.slice/cron.service");
    rig.process(300, "/system.slice");
    rig.process(301, &app.spec.cgroups_path);
    rig.fake
        .set_fault_all(Fault::Garbage(Garbage::CgroupsPath(path)));
    let mut p = rig.start();

    until("the cgroupsPath refused", WAIT, || {
        (rig.rejected("cgroups_path") >= 1.0 && rig.cached() == 1.0).then_some(())
    })
    .await;
    // The container is known by its id: its own process still proves it.
    let proved = one(&mut p, tcp(app.cgroup, 301));
    assert_eq!(container_of(&proved).as_deref(), Some(app.id()));

    over_resyncs(&rig, 1, || {
        assert_all_host(&mut p, &[root, slice, cron], "a host cgroup");
        assert_host(&one(&mut p, tcp(slice, 300)), "a process in the slice");
        let own = one(&mut p, tcp(app.cgroup, 0));
        assert_container_or_host(&own, &app, "the container's own cgroup");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cgroups_path_of_the_root_attributes_nothing() {
    cgroups_path_naming_no_container("path-root", "/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cgroups_path_of_a_host_slice_attributes_nothing() {
    cgroups_path_naming_no_container("path-slice", "/system.slice").await;
}

/// `Garbage::SharedCgroupsPath`: every container claims the first one's path. The path
/// names the first container, so the claim is true of it and refused for the others
/// (`rejected{reason="cgroups_path"}`): the cgroup is never attributed to the sidecar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cgroups_path_claimed_by_every_container_goes_to_the_one_it_names() {
    let rig = Rig::new("path-shared");
    let app = rig.known("app", "web");
    let sidecar = rig.known("sidecar", "web");
    rig.fake.set_fault(
        "ContainerStatus",
        Fault::Garbage(Garbage::SharedCgroupsPath),
    );
    let mut p = rig.start();

    until("the false claims refused", WAIT, || {
        (rig.rejected("cgroups_path") >= 1.0 && rig.cached() == 2.0).then_some(())
    })
    .await;
    over_resyncs(&rig, 1, || {
        let shared = one(&mut p, tcp(app.cgroup, 0));
        assert_eq!(container_of(&shared).as_deref(), Some(app.id()));
        let own = one(&mut p, tcp(sidecar.cgroup, 0));
        assert_container_or_host(&own, &sidecar, "the sidecar's own cgroup");
    })
    .await;
    assert_eq!(rig.rejected("cgroup_conflict"), 0.0);
}

/// Two containers whose (correctly named) cgroup directories are one directory: the
/// cgroup id is claimed twice and attributed to neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cgroup_claimed_by_two_containers_is_attributed_to_neither() {
    let rig = Rig::new("conflict");
    let app = rig.known("app", "web");
    let twin = FakeContainer::new("twin", "web");
    symlink(
        rig.cgroup_dir(&app.spec.cgroups_path),
        rig.cgroup_dir(&twin.cgroups_path),
    )
    .expect("aliasing the twin's cgroup");
    rig.fake.add_container(twin);
    let mut p = rig.start();

    until("the conflict found", WAIT, || {
        (rig.rejected("cgroup_conflict") >= 1.0 && rig.cached() == 2.0).then_some(())
    })
    .await;
    over_resyncs(&rig, 1, || {
        assert_all_host(&mut p, &[app.cgroup], "a cgroup claimed twice");
    })
    .await;
    assert_eq!(rig.rejected("cgroup_conflict"), 1.0, "counted once");
}

/// Container ids that are not 64 hex digits, in the list and in status answers.
async fn bad_ids(test: &str, garbage: Garbage) {
    let rig = Rig::new(test);
    let app = rig.known("app", "web");
    rig.process(400, &app.spec.cgroups_path);
    rig.fake.set_fault_all(Fault::Garbage(garbage));
    let mut p = rig.start();

    until("the ids refused", WAIT, || {
        (rig.rejected("container_id") >= 1.0).then_some(())
    })
    .await;
    over_resyncs(&rig, 1, || {
        assert_all_host(&mut p, &[app.cgroup], "a container listed with a bad id");
    })
    .await;
    assert_eq!(rig.cached(), 0.0);

    // Its process proves the container, but the runtime cannot describe it: held, then
    // released as the node's after the hold.
    let held_at = Instant::now();
    assert!(p.process(vec![tcp(app.cgroup, 400)]).is_empty());
    let released = until("the hold running out", WAIT, || {
        let out = p.release(Release::Due(Instant::now()));
        (!out.is_empty()).then_some(out)
    })
    .await;
    assert!(held_at.elapsed() >= rig.config.hold);
    assert_eq!(released.len(), 1);
    assert_host(&released[0], "a container described with a bad id");
    assert_eq!(rig.held("expired"), 1.0);
    assert_eq!(rig.held("attributed"), 0.0);
    assert_eq!(rig.cached(), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_container_ids_are_refused() {
    bad_ids("ids-malformed", Garbage::MalformedIds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_container_ids_are_refused() {
    bad_ids("ids-empty", Garbage::EmptyIds).await;
}

/// A list whose ids are all malformed says nothing about the containers kotel knows: a
/// running container must not be taken for removed (and forgotten after `exited_grace`)
/// because the runtime garbled its id in one answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbled_list_does_not_make_running_containers_gone() {
    let mut rig = Rig::new("ids-forget");
    rig.config.exited_grace = Duration::from_secs(1);
    let app = rig.known("app", "web");
    let mut p = rig.start();
    until_attributed(&mut p, &app, WAIT).await;

    rig.fake
        .set_fault("ListContainers", Fault::Garbage(Garbage::MalformedIds));
    let garbled = Instant::now();
    // The garbled list, the grace period, and one more.
    over_resyncs(&rig, 3, || {
        let event = one(&mut p, tcp(app.cgroup, 0));
        let since = garbled.elapsed();
        let what = format!("a running container {since:?} into garbled lists");
        assert_eq!(container_of(&event).as_deref(), Some(app.id()), "{what}");
    })
    .await;
    assert!(rig.rejected("container_id") >= 1.0);
}

/// A verbose info kotel cannot read: the container is known by id, nothing is taken from
/// the info.
async fn bad_info(test: &str, garbage: Garbage) {
    let rig = Rig::new(test);
    let app = rig.known("app", "web");
    let root = rig.cgroup("/");
    let cron = rig.cgroup("/system.slice/cron.service");
    rig.process(500, &app.spec.cgroups_path);
    rig.fake
        .set_fault("ContainerStatus", Fault::Garbage(garbage));
    let mut p = rig.start();

    until("the info refused", WAIT, || {
        (rig.rejected("info") >= 1.0 && rig.cached() == 1.0).then_some(())
    })
    .await;
    let proved = one(&mut p, tcp(app.cgroup, 500));
    assert_eq!(container_of(&proved).as_deref(), Some(app.id()));
    assert_eq!(attributes(&proved)[keys::POD_NAME], "web");
    over_resyncs(&rig, 1, || {
        assert_all_host(&mut p, &[root, cron], "a host cgroup");
        let own = one(&mut p, tcp(app.cgroup, 0));
        assert_container_or_host(&own, &app, "the container's own cgroup");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verbose_info_that_is_no_json_is_refused() {
    bad_info("info-cut", Garbage::InfoNotJson).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verbose_info_with_a_string_pid_is_refused() {
    bad_info("info-pid", Garbage::PidAsString).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn megabyte_labels_are_clipped() {
    let rig = Rig::new("huge");
    let app = rig.known("app", "web");
    let sidecar = rig.known("sidecar", "web");
    rig.fake.set_fault_all(Fault::Garbage(Garbage::HugeLabels));
    let mut p = rig.start();

    let event = until_attributed(&mut p, &app, WAIT).await;
    let attributes = attributes(&event);
    assert_eq!(attributes[keys::POD_NAME], "x".repeat(256));
    for (key, value) in &attributes {
        assert!(value.len() <= 256, "{key} is {} bytes", value.len());
    }
    let other = until_attributed(&mut p, &sidecar, WAIT).await;
    assert_eq!(super::rig::attributes(&other)[keys::POD_NAME], "web");
}
