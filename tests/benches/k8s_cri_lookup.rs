//! What `k8s_cri` costs (a benchmark, not a timed test), unprivileged:
//! `cargo bench -p kotel-integration-tests --bench k8s_cri_lookup`.
//!
//! - Lookup cost per event: the real processor, its cache filled by the real CRI task from
//!   the in-process CRI server with `CONTAINERS` containers (cgroup directories in a
//!   scratch unified root), processes batches of 256 tcp events from those containers
//!   (every lookup a hit) and from host cgroups (every lookup remembered as host).
//! - Memory per cached container: live heap bytes (a counting allocator) with the cache
//!   full minus with it empty, divided by the number of containers. It includes the
//!   catalog entry, both snapshot maps and the shared attribute set.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use kotel::component::Processor;
use kotel::event::Event;
use kotel::processors::k8s_cri::{CriService, K8sCriConfig, K8sCriProcessor};
use kotel_integration_tests::alloc_count::{live_bytes, CountingAllocator};
use kotel_integration_tests::events::tcp_connect;
use kotel_integration_tests::fake_cri::{FakeContainer, FakeCri};
use kotel_integration_tests::warm_cri::container;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const CONTAINERS: usize = 2_000;
const BATCH: usize = 256;
const ROUNDS: usize = 5;
const BATCHES_PER_ROUND: usize = 2_000;

fn event(cgroup_id: u64) -> Event {
    Event::Tcp(tcp_connect(cgroup_id, 0, 0))
}

/// Fake containers with real cgroup directories under `root`; their cgroup ids.
fn containers(root: &Path, n: usize) -> (Vec<FakeContainer>, Vec<u64>) {
    (0..n).map(|i| container(root, i)).unzip()
}

fn main() {
    kotel::telemetry::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let scratch = tempfile::tempdir().unwrap();
    let unified = scratch.path().join("cg");
    let fake = FakeCri::start(&scratch.path().join("cri.sock")).expect("fake CRI");
    let (fakes, cgroups) = containers(&unified, CONTAINERS);
    let host_dirs: Vec<u64> = (0..64)
        .map(|i| {
            let dir = unified.join(format!("system.slice/svc-{i}.service"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::metadata(&dir).unwrap().ino()
        })
        .collect();
    let config = K8sCriConfig {
        endpoint: format!("unix://{}", fake.socket().display()),
        cgroup_root: unified.clone(),
        node_name: "bench-node".into(),
        resync_interval: Duration::from_secs(3600),
        ..K8sCriConfig::default()
    };

    fake.set_containers(fakes);
    std::thread::sleep(Duration::from_millis(100));
    let empty = live_bytes();
    let service = CriService::start("k8s_cri/bench", &config);
    let mut processor = K8sCriProcessor::new(service.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while service.snapshot().by_cgroup.len() < CONTAINERS {
        assert!(Instant::now() < deadline, "cache never filled");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let full = live_bytes();
    println!(
        "k8s_cri cache: {CONTAINERS} containers, {} bytes of heap per cached container",
        (full - empty) / CONTAINERS as isize
    );

    let batches_of = |ids: &[u64]| -> Vec<Vec<Event>> {
        (0..BATCHES_PER_ROUND)
            .map(|b| {
                (0..BATCH)
                    .map(|i| event(ids[(b * BATCH + i) % ids.len()]))
                    .collect()
            })
            .collect()
    };
    // What the bench itself costs per event: handing batches over and dropping them.
    let baseline = best_of(&batches_of(&cgroups), &mut |batch| batch);
    println!("bench overhead (moving and dropping the batches): {baseline:.0} ns per event");
    for (what, ids) in [
        ("container hit", &cgroups),
        ("unknown cgroup, no pid", &host_dirs),
    ] {
        let total = best_of(&batches_of(ids), &mut |batch| processor.process(batch));
        println!(
            "k8s_cri lookup, {what}: {:.0} ns per event ({total:.0} ns with the bench overhead; best of {ROUNDS} rounds of {} events)",
            total - baseline,
            BATCH * BATCHES_PER_ROUND
        );
    }
}

/// The best, over [`ROUNDS`], of nanoseconds per event to run `step` on every batch.
fn best_of(batches: &[Vec<Event>], step: &mut dyn FnMut(Vec<Event>) -> Vec<Event>) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let round = batches.to_vec();
        let started = Instant::now();
        for batch in round {
            let out = step(batch);
            assert_eq!(out.len(), BATCH);
            std::hint::black_box(out);
        }
        let events = (BATCH * batches.len()) as f64;
        best = best.min(started.elapsed().as_nanos() as f64 / events);
    }
    best
}
