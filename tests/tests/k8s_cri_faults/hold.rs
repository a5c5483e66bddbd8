//! Events of containers the runtime has not described yet: held, then released
//! attributed, expired, drained or, when the hold is full, passed on.

use std::time::{Duration, Instant};

use kotel::component::{Processor, Release};
use kotel::event::Event;
use kotel::processors::k8s_cri::K8sCriProcessor;
use kotel_integration_tests::fake_cri::FakeContainer;

use super::rig::{
    assert_host, container_of, mark, one, tcp, until, until_attributed, Container, Rig, WAIT,
};

/// Polls `release(Due(now))` until it gives something back.
async fn until_released(p: &mut K8sCriProcessor, what: &str) -> Vec<Event> {
    until(what, WAIT, || {
        let out = p.release(Release::Due(Instant::now()));
        (!out.is_empty()).then_some(out)
    })
    .await
}

/// A container whose process proves it while the runtime does not know it yet; once it
/// does, the processor learns of it through the event stream (`events`), else through
/// whichever comes first: the lookup the event asked for or the next periodic resync.
async fn held_until_described(test: &str, events: bool) {
    let mut rig = Rig::new(test);
    rig.config.hold = Duration::from_secs(3);
    rig.fake.set_events(events);
    let app = rig.known("app", "web");
    let late = rig.unknown("late", "web");
    let cron = rig.cgroup("/system.slice/cron.service");
    rig.process(600, &late.spec.cgroups_path);
    let mut p = rig.start();
    until_attributed(&mut p, &app, WAIT).await;
    if events {
        until("the event stream open", WAIT, || {
            (rig.fake.calls("GetContainerEvents") >= 1).then_some(())
        })
        .await;
    }

    let held_at = Instant::now();
    let first = tcp(late.cgroup, 600);
    let second = tcp(late.cgroup, 0);
    let marks = [mark(&first), mark(&second)];
    assert!(p.process(vec![first]).is_empty(), "held");
    assert_eq!(p.held(), 1);
    assert!(p.next_release().is_some());
    // Later events of the cgroup queue behind; other cgroups pass.
    assert!(p.process(vec![second]).is_empty(), "queued behind");
    assert_eq!(p.held(), 2);
    assert_host(&one(&mut p, tcp(cron, 0)), "a host event");
    assert!(p.release(Release::Due(Instant::now())).is_empty());

    rig.fake.add_container(late.spec.clone());
    let released = until_released(&mut p, "the held events released").await;
    assert!(
        held_at.elapsed() < Duration::from_secs(3),
        "released by the hold's end"
    );
    assert_eq!(released.iter().map(mark).collect::<Vec<_>>(), marks);
    for event in &released {
        assert_eq!(container_of(event).as_deref(), Some(late.id()));
    }
    assert_eq!(p.held(), 0);
    assert_eq!(p.next_release(), None);
    assert_eq!(rig.held("attributed"), 2.0);
    assert_eq!(rig.held("expired"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_event_is_released_attributed_once_the_event_stream_announces_its_container() {
    held_until_described("hold-stream", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_event_is_released_attributed_once_the_runtime_describes_its_container() {
    held_until_described("hold-resync", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_event_expires_with_host_attributes_after_the_hold() {
    let rig = Rig::new("hold-expire");
    let app = rig.known("app", "web");
    let ghost = rig.unknown("ghost", "web");
    let cron = rig.cgroup("/system.slice/cron.service");
    rig.process(700, &ghost.spec.cgroups_path);
    let mut p = rig.start();
    until_attributed(&mut p, &app, WAIT).await;

    // A container the runtime never describes, and a host process that is gone before
    // its event is looked at (it waits for a resync that finds no container).
    let held_at = Instant::now();
    assert!(p.process(vec![tcp(ghost.cgroup, 700)]).is_empty());
    assert!(p.process(vec![tcp(cron, 701)]).is_empty());
    assert_eq!(p.held(), 2);
    let mut released = until_released(&mut p, "the hold running out").await;
    assert!(
        held_at.elapsed() >= rig.config.hold,
        "{:?}",
        held_at.elapsed()
    );
    if released.len() < 2 {
        released.extend(until_released(&mut p, "the second running out").await);
    }
    assert_eq!(released.len(), 2);
    for event in &released {
        assert_host(event, "released after the hold");
    }
    assert_eq!(rig.held("expired"), 2.0);
    assert_eq!(rig.held("attributed"), 0.0);
    assert_eq!(p.held(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_releases_everything_held_and_a_full_hold_passes_events_on() {
    let mut rig = Rig::new("hold-drain");
    rig.config.hold = Duration::from_secs(5);
    rig.config.hold_max_events = 2;
    let app = rig.known("app", "web");
    let one_ghost = rig.unknown("ghost-1", "web");
    let two_ghost = rig.unknown("ghost-2", "web");
    rig.process(800, &one_ghost.spec.cgroups_path);
    rig.process(801, &two_ghost.spec.cgroups_path);
    let mut p = rig.start();
    until_attributed(&mut p, &app, WAIT).await;

    let held = [tcp(one_ghost.cgroup, 800), tcp(two_ghost.cgroup, 801)];
    let marks: Vec<u64> = held.iter().map(mark).collect();
    assert!(p.process(held.to_vec()).is_empty());
    assert_eq!(p.held(), 2);
    // Full: the next one passes with the node's attributes, counted.
    let passed = p.process(vec![tcp(one_ghost.cgroup, 0)]);
    assert_eq!(passed.len(), 1);
    assert_host(&passed[0], "passed by a full hold");
    assert_eq!(rig.held("overflow"), 1.0);

    let drained = p.release(Release::All);
    assert_eq!(drained.iter().map(mark).collect::<Vec<_>>(), marks);
    for event in &drained {
        assert_host(event, "drained");
    }
    assert_eq!(rig.held("shutdown"), 2.0);
    assert_eq!(p.held(), 0);
    assert!(p.release(Release::All).is_empty());
}

/// The runtime's cgroupsPath for `container` outside the subtrees watched for new
/// container cgroups (`kubepods*`, `k8s.io`), as a runtime with its own parent would put
/// it: only a resync can map its cgroup id then.
fn outside_kubepods(rig: &Rig, name: &str) -> Container {
    let mut spec = FakeContainer::new(name, "web");
    spec.cgroups_path = format!("/system.slice/docker-{}.scope", spec.id);
    let cgroup = rig.cgroup(&spec.cgroups_path);
    Container { spec, cgroup }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_whose_process_is_gone_waits_for_the_resync_it_asks_for() {
    let mut rig = Rig::new("hold-vanished");
    rig.config.hold = Duration::from_secs(3);
    // No periodic resync during the test: only the one the event asks for.
    rig.config.resync_interval = Duration::from_secs(600);
    let app = rig.known("app", "web");
    let late = outside_kubepods(&rig, "late");
    let mut p = rig.start();
    until_attributed(&mut p, &app, WAIT).await;
    let lists = rig.fake.calls("ListContainers");

    rig.fake.add_container(late.spec.clone());
    // Pid 900 has no /proc entry: it exited before its event was looked at.
    let event = tcp(late.cgroup, 900);
    let sent = mark(&event);
    assert!(p.process(vec![event]).is_empty(), "held");
    let released = until_released(&mut p, "the held event released").await;
    assert_eq!(released.iter().map(mark).collect::<Vec<_>>(), [sent]);
    assert_eq!(container_of(&released[0]).as_deref(), Some(late.id()));
    assert_eq!(rig.held("attributed"), 1.0);
    assert_eq!(
        rig.fake.calls("ListContainers"),
        lists + 1,
        "one resync, asked for"
    );
}
