//! The steady event path of the metrics pipeline allocates nothing per event: `k8s_cri`
//! with a warm cache (containers from the in-process CRI server), then `aggregate`
//! (default config but a cardinality limit with room for every series), fed the `tcp`
//! source's event mix in batches of 256 and, apart, the per-interval kernel records.
//! Allocations are counted on this thread only, after one warm-up round that makes every
//! series and attribute set. Unprivileged.
//!
//! This binary installs a counting global allocator, so it holds only this test.

use kotel::component::{Processor, Release};
use kotel::event::keys;
use kotel::event::{Event, MetricData};
use kotel::processors::aggregate::AggregateConfig;
use kotel_integration_tests::alloc_count::CountingAllocator;
use kotel_integration_tests::connection_mix::{connection_batches, interval_records};
use kotel_integration_tests::steady_path::SteadyPath;
use kotel_integration_tests::warm_cri::WarmCri;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const CONTAINERS: usize = 500;
const BATCH: usize = 256;
/// Enough batches that every container sees connections of both directions close.
const BATCHES: usize = 40;

#[test]
fn aggregating_attributed_events_allocates_nothing_per_event() {
    let scratch = tempfile::tempdir().unwrap();
    let warm = WarmCri::start(scratch.path(), CONTAINERS);
    let config = AggregateConfig {
        cardinality_limit: 10 * CONTAINERS,
        ..AggregateConfig::default()
    };
    let mut path = SteadyPath::new(warm.service.clone(), &config);

    let connections = connection_batches(&warm.cgroups, BATCHES, BATCH);
    let warm_up = path.count_allocations(connections.clone());
    assert!(
        warm_up > 0,
        "the allocator counts (the warm-up makes series)"
    );
    let allocations = path.count_allocations(connections);
    assert_eq!(
        allocations,
        0,
        "allocations on the steady path: {allocations} for {} connection events",
        BATCHES * BATCH
    );

    let records = |t| interval_records(&warm.cgroups, t);
    path.count_allocations(vec![records(1)]);
    let allocations = path.count_allocations(vec![records(2), records(3)]);
    assert_eq!(
        allocations,
        0,
        "allocations on the steady path: {allocations} for {} interval records",
        2 * records(0).len()
    );

    // The path measured is the attributed one: a series per container and direction.
    let Some(Event::Metrics(collected)) = path.aggregate.release(Release::All).pop() else {
        panic!("no collection");
    };
    let opened = collected
        .metrics
        .iter()
        .find(|m| m.name == "tcp.connection.opened")
        .expect("tcp.connection.opened");
    let MetricData::Sum { points, .. } = &opened.data else {
        panic!("opened is a sum");
    };
    assert_eq!(
        points.len(),
        2 * CONTAINERS,
        "one series per container and direction"
    );
    assert!(points
        .iter()
        .all(|p| p.header.attributes.iter().any(|(k, _)| k == keys::POD_NAME)));
}
