use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::event::keys;

fn pod(name: &str) -> Arc<Workload> {
    Arc::new(Workload::from_pairs([
        (keys::NAMESPACE, "shop"),
        (keys::POD_NAME, name),
        (keys::CONTAINER_ID, "c0ffee"),
    ]))
}

fn cache() -> AttributeSets {
    AttributeSets::new(vec![keys::POD_NAME.into(), keys::NAMESPACE.into()])
}

fn pairs(set: &SeriesKey) -> Vec<String> {
    set.attributes()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

#[test]
fn sets_hold_the_configured_attributes_peer_and_extra_sorted_by_key() {
    let mut sets = cache();
    let web = pod("web-1");
    let peer = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 443);
    let set = sets
        .entry(Some(&web), Some(peer))
        .set(Extra::Direction(Direction::Inbound));
    assert_eq!(
        pairs(&set),
        [
            "direction=inbound",
            "k8s.namespace.name=shop",
            "k8s.pod.name=web-1",
            "network.peer.address=10.0.0.9",
            "server.port=443",
        ]
    );
    assert_eq!(
        pairs(&sets.entry(Some(&web), None).set(Extra::Transmit)),
        [
            "k8s.namespace.name=shop",
            "k8s.pod.name=web-1",
            "network.io.direction=transmit",
        ]
    );
    assert_eq!(
        pairs(&sets.entry(None, None).set(Extra::Sent)),
        ["direction=sent"]
    );
    assert!(sets
        .entry(None, None)
        .set(Extra::Plain)
        .attributes()
        .is_empty());
}

#[test]
fn a_workload_gets_the_same_shared_set_every_time_and_equal_workloads_equal_sets() {
    let mut sets = cache();
    let (web, twin) = (pod("web-1"), pod("web-1"));
    let first = sets.entry(Some(&web), None).set(Extra::Receive);
    let again = sets.entry(Some(&web), None).set(Extra::Receive);
    assert!(
        Arc::ptr_eq(first.attributes(), again.attributes()),
        "made once, then shared"
    );
    let other = sets.entry(Some(&twin), None).set(Extra::Receive);
    assert_eq!(first, other, "another instance with the same attributes");
    assert_eq!(sets.len(), 2);
}

#[test]
fn a_sweep_forgets_what_no_event_used_since_the_previous_one() {
    let mut sets = cache();
    let (web, gone) = (pod("web-1"), pod("gone-1"));
    sets.entry(Some(&web), None).set(Extra::Plain);
    sets.entry(Some(&gone), None).set(Extra::Plain);
    assert_eq!(
        Arc::strong_count(&gone),
        2,
        "the cache keeps the workload alive"
    );
    sets.sweep();
    assert_eq!(sets.len(), 2, "both were used in this interval");
    sets.entry(Some(&web), None);
    sets.sweep();
    assert_eq!(sets.len(), 1);
    assert_eq!(
        Arc::strong_count(&gone),
        1,
        "the forgotten workload is released"
    );
    sets.sweep();
    assert!(sets.is_empty());
}
