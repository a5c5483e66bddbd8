//! A runtime that hangs, is slow, fails, sends undecodable bytes or restarts: the event
//! path never waits for it, failures are counted, and attribution comes back.

use std::time::Duration;

use kotel::component::{Processor, Release};
use kotel_integration_tests::fake_cri::Fault;
use tonic::Code;

use super::rig::{
    assert_host, container_of, fast_run, one, tcp, until, until_attributed, Container, Rig, WAIT,
};

/// Batches sent during a fault phase at least, each timed by [`fast_run`].
const MIN_BATCHES: u32 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_runtime_never_blocks_the_event_path() {
    let rig = Rig::new("hang");
    let app = rig.known("app", "web");
    let cron = rig.cgroup("/system.slice/cron.service");
    rig.process(200, &app.spec.cgroups_path);
    rig.fake.set_fault_all(Fault::Hang);
    let mut p = rig.start();

    // Every call hangs from the first one on: connecting never succeeds.
    let mut batches = 0;
    until("two calls timing out", WAIT, || {
        batches += 1;
        // A container's event with nothing to look at, one proved by its process (held:
        // the runtime cannot describe it) and a host event.
        let batch = vec![tcp(app.cgroup, 0), tcp(app.cgroup, 200), tcp(cron, 0)];
        for event in fast_run(&mut p, batch) {
            assert_host(&event, "while the runtime hangs");
        }
        (batches >= MIN_BATCHES && rig.calls("timeout") >= 2.0).then_some(())
    })
    .await;
    assert_eq!(rig.connected(), 0.0);
    assert!(rig.fake.calls("Version") >= 2, "the task keeps trying");
    for event in p.release(Release::All) {
        assert_host(&event, "held while the runtime hangs");
    }

    rig.fake.clear_faults();
    until_attributed(&mut p, &app, WAIT).await;
    assert_eq!(rig.connected(), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_runtime_never_blocks_the_event_path_and_the_cache_keeps_attributing() {
    let rig = Rig::new("slow");
    let app = rig.known("app", "web");
    let mut p = rig.start();
    until_attributed(&mut p, &app, WAIT).await;

    // Every answer now comes after 5 s, far past the 200 ms call timeout; a container
    // starts meanwhile.
    rig.fake.set_fault_all(Fault::Delay(Duration::from_secs(5)));
    let late = rig.known("late", "web");
    let mut batches = 0;
    until("two calls timing out", WAIT, || {
        batches += 1;
        for event in fast_run(&mut p, vec![tcp(app.cgroup, 0), tcp(late.cgroup, 0)]) {
            let cgroup = event.origin().map(|o| o.cgroup_id);
            if cgroup == Some(app.cgroup) {
                let cached = container_of(&event);
                assert_eq!(cached.as_deref(), Some(app.id()), "the cache is kept");
            } else {
                assert_host(&event, "a container the slow runtime did not describe");
            }
        }
        (batches >= MIN_BATCHES && rig.calls("timeout") >= 2.0).then_some(())
    })
    .await;
    // Two timeouts: the session was given up and a reconnect timed out as well.
    assert_eq!(rig.connected(), 0.0);

    rig.fake.clear_faults();
    until_attributed(&mut p, &late, WAIT).await;
    until_attributed(&mut p, &app, WAIT).await;
    assert_eq!(rig.connected(), 1.0);
}

/// Sends events of `app` (attributed) and `late` (not described: host) until `done`.
async fn while_failing(
    rig: &Rig,
    p: &mut kotel::processors::k8s_cri::K8sCriProcessor,
    app: &Container,
    late: &Container,
    what: &str,
    mut done: impl FnMut(&Rig) -> bool,
) {
    until(what, WAIT, || {
        let known = one(p, tcp(app.cgroup, 0));
        assert_eq!(container_of(&known).as_deref(), Some(app.id()), "{what}");
        assert_host(&one(p, tcp(late.cgroup, 0)), what);
        done(rig).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_are_counted_and_survived() {
    let rig = Rig::new("errors");
    let app = rig.known("app", "web");
    rig.fake.set_fault_all(Fault::Status(Code::Unavailable));
    let mut p = rig.start();

    // Unavailable from the start: no connection; events get host attributes.
    until("two calls failing", WAIT, || {
        assert_host(&one(&mut p, tcp(app.cgroup, 0)), "while unavailable");
        (rig.calls("error") >= 2.0).then_some(())
    })
    .await;
    assert!(rig.connects("error") >= 2.0);
    assert_eq!(rig.connected(), 0.0);
    rig.fake.clear_faults();
    until_attributed(&mut p, &app, WAIT).await;

    // Internal errors while connected: the session stays, the cache keeps attributing,
    // a container started meanwhile waits for a call that succeeds.
    let sessions = rig.connects("ok");
    rig.fake.set_fault_all(Fault::Status(Code::Internal));
    let late = rig.known("late", "web");
    let what = "a resync failing with Internal";
    while_failing(&rig, &mut p, &app, &late, what, |rig| {
        rig.rpc_calls("ListContainers", "error") >= 1.0
    })
    .await;
    assert_eq!(
        rig.connects("ok"),
        sessions,
        "an Internal error is no reason to reconnect"
    );
    assert_eq!(rig.connected(), 1.0);

    rig.fake.clear_faults();
    until_attributed(&mut p, &late, WAIT).await;
    assert_eq!(rig.connects("ok"), sessions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_answers_are_errors_not_crashes() {
    let rig = Rig::new("wire");
    let app = rig.known("app", "web");
    rig.fake.set_fault_all(Fault::WireGarbage);
    let mut p = rig.start();

    until("two answers failing to decode", WAIT, || {
        assert_host(
            &one(&mut p, tcp(app.cgroup, 0)),
            "while answers are garbage",
        );
        (rig.rpc_calls("Version", "error") >= 2.0).then_some(())
    })
    .await;
    assert_eq!(rig.connected(), 0.0);
    rig.fake.clear_faults();
    until_attributed(&mut p, &app, WAIT).await;

    // Only ContainerStatus answers garbage now: a new container cannot be described,
    // the rest goes on.
    rig.fake.set_fault("ContainerStatus", Fault::WireGarbage);
    let lists = rig.rpc_calls("ListContainers", "ok");
    let late = rig.known("late", "web");
    let what = "ContainerStatus failing to decode";
    while_failing(&rig, &mut p, &app, &late, what, |rig| {
        rig.rpc_calls("ContainerStatus", "error") >= 1.0
            && rig.rpc_calls("ListContainers", "ok") > lists
    })
    .await;
    assert_eq!(rig.connected(), 1.0);

    rig.fake.clear_faults();
    until_attributed(&mut p, &late, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_restart_keeps_the_cache_and_finds_containers_started_meanwhile() {
    let mut rig = Rig::new("restart");
    let app = rig.known("app", "web");
    let mut p = rig.start();
    until_attributed(&mut p, &app, WAIT).await;
    assert_eq!(rig.connected(), 1.0);

    // Down: the task notices at its next call; the cache keeps attributing.
    rig.fake.stop();
    until("the runtime found gone", WAIT, || {
        let event = one(&mut p, tcp(app.cgroup, 0));
        assert_eq!(
            container_of(&event).as_deref(),
            Some(app.id()),
            "the cache is kept"
        );
        (rig.connected() == 0.0).then_some(())
    })
    .await;
    // A container starts while the runtime is down; the task keeps looking for it.
    let late = rig.known("late", "web");
    let what = "the runtime being down";
    let no_socket = rig.connects("no_socket");
    while_failing(&rig, &mut p, &app, &late, what, |rig| {
        rig.connects("no_socket") > no_socket
    })
    .await;
    assert_eq!(rig.connected(), 0.0);

    rig.fake.restart().expect("restarting the runtime");
    until_attributed(&mut p, &late, WAIT).await;
    assert_eq!(rig.connected(), 1.0);
    let event = one(&mut p, tcp(app.cgroup, 0));
    assert_eq!(container_of(&event).as_deref(), Some(app.id()));
}
