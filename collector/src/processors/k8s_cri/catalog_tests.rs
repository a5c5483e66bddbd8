use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::event::{keys, Workload};

fn workload(id: &str) -> Arc<Workload> {
    Arc::new(Workload::from_pairs([(keys::CONTAINER_ID, id)]))
}

#[test]
fn snapshots_map_cgroup_ids_and_container_ids() {
    let now = Instant::now();
    let mut catalog = Catalog::new(Duration::from_secs(60), 10);
    catalog.upsert("a", workload("a"), Some(100), true, now);
    catalog.upsert("b", workload("b"), None, true, now);
    assert!(catalog.learn_cgroup("b", 200));
    assert!(!catalog.learn_cgroup("unknown", 300));
    let (snap, _) = catalog.snapshot();
    assert_eq!(snap.by_cgroup[&100].get(keys::CONTAINER_ID), Some("a"));
    assert_eq!(snap.by_cgroup[&200].get(keys::CONTAINER_ID), Some("b"));
    assert!(!snap.by_cgroup.contains_key(&300));
    assert_eq!(snap.by_container.len(), 2);
    assert!(catalog.is_settled("a", true) && !catalog.is_settled("a", false));
}

#[test]
fn gone_containers_attribute_for_the_grace_period_then_expire() {
    let t0 = Instant::now();
    let mut catalog = Catalog::new(Duration::from_secs(60), 10);
    catalog.upsert("a", workload("a"), Some(100), true, t0);
    catalog.upsert("b", workload("b"), Some(200), true, t0);
    catalog.keep_listed(&|id| id == "b", t0);
    // An exited container's status has no cgroup any more: the known id stays.
    catalog.upsert(
        "b",
        workload("b"),
        None,
        false,
        t0 + Duration::from_secs(30),
    );
    assert_eq!(catalog.cgroup_id("b"), Some(200));
    assert_eq!(
        catalog.expire(t0 + Duration::from_secs(59)),
        Housekeeping::default()
    );
    assert_eq!(catalog.snapshot().0.by_cgroup.len(), 2);
    catalog.expire(t0 + Duration::from_secs(61));
    assert_eq!(catalog.cgroup_id("a"), None, "gone for 61 s > grace");
    assert_eq!(catalog.cgroup_id("b"), Some(200), "exited 31 s ago");
    catalog.expire(t0 + Duration::from_secs(91));
    assert!(catalog.is_empty());
}

#[test]
fn the_bound_evicts_the_longest_gone_first_and_counts_it() {
    let t0 = Instant::now();
    let mut catalog = Catalog::new(Duration::from_secs(60), 2);
    catalog.upsert("old", workload("old"), Some(1), false, t0);
    catalog.upsert(
        "newer",
        workload("newer"),
        Some(2),
        false,
        t0 + Duration::from_secs(1),
    );
    catalog.upsert("live", workload("live"), Some(3), true, t0);
    let counted = catalog.expire(t0 + Duration::from_secs(2));
    assert_eq!(counted.evicted, 1);
    assert_eq!(catalog.cgroup_id("old"), None);
    assert_eq!(catalog.len(), 2);
}

#[test]
fn a_cgroup_claimed_by_two_containers_attributes_neither() {
    let now = Instant::now();
    let mut catalog = Catalog::new(Duration::from_secs(60), 10);
    catalog.upsert("a", workload("a"), Some(100), true, now);
    catalog.upsert("b", workload("b"), Some(100), true, now);
    let (snap, counted) = catalog.snapshot();
    assert!(snap.by_cgroup.is_empty());
    assert_eq!(counted.conflicts, 1);
    assert_eq!(catalog.snapshot().1.conflicts, 0, "counted once");
}

#[test]
fn the_shared_snapshot_hands_out_the_latest() {
    let shared = SharedSnapshot::default();
    assert!(shared.current().by_cgroup.is_empty());
    let mut next = Snapshot::default();
    next.by_cgroup.insert(1, workload("a"));
    shared.publish(next);
    assert_eq!(shared.current().by_cgroup.len(), 1);
}

#[test]
fn a_cgroup_learned_before_the_container_is_described_applies_when_it_is() {
    let now = Instant::now();
    let mut catalog = Catalog::new(Duration::from_secs(60), 10);
    assert!(!catalog.learn_cgroup("born", 500));
    assert!(!catalog.snapshot().0.by_cgroup.contains_key(&500));
    // Described after it exited: the runtime gives no cgroup, the birth does.
    catalog.upsert("born", workload("born"), None, false, now);
    assert_eq!(
        catalog.snapshot().0.by_cgroup[&500].get(keys::CONTAINER_ID),
        Some("born")
    );
}

#[test]
fn an_expired_exited_container_stays_settled_while_the_runtime_lists_it() {
    let t0 = Instant::now();
    let mut catalog = Catalog::new(Duration::from_secs(1), 10);
    catalog.upsert("done", workload("done"), Some(9), false, t0);
    catalog.expire(t0 + Duration::from_secs(2));
    assert!(catalog.is_empty());
    // Still listed as exited: a resync must not describe it again.
    catalog.keep_listed(&|id| id == "done", t0 + Duration::from_secs(3));
    assert!(catalog.is_settled("done", false));
    // Gone from the list: forgotten.
    catalog.keep_listed(&|_| false, t0 + Duration::from_secs(4));
    assert!(!catalog.is_settled("done", false));
}
