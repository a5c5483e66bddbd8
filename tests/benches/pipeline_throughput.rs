//! User-space pipeline throughput and allocations per event (a benchmark, not a timed
//! test), unprivileged: `cargo bench -p kotel-integration-tests --bench pipeline_throughput`.
//!
//! - Steady path (the figure the "events per second per core" target applies to): the
//!   real `k8s_cri` processor, its cache warm with `CONTAINERS` containers from the
//!   in-process CRI server, then the real `aggregate` processor (default config but for
//!   `CARDINALITY_LIMIT`), driven on this one thread with batches of `BATCH` tcp events
//!   as the kernel reader makes them (connect/accept, then close with duration and bytes; see
//!   `kotel_integration_tests::connection_mix`), every event attributed to a container.
//!   Reported per event: wall-clock and this thread's CPU time (robust against other work
//!   on the machine), best and median of `ROUNDS`; and allocations per event, counted
//!   over a whole round after a warm-up round. Per-interval kernel records (histograms,
//!   counters) and one collection of every series are reported apart.
//! - End to end: a pipeline built from YAML, `replay` (JSON lines) -> `k8s_cri` ->
//!   `aggregate` -> a null exporter, run by the real runtime on a single-threaded Tokio
//!   runtime; and `replay` -> null alone, to show what JSON decoding costs. Reported as
//!   events per second of wall-clock and per second of process CPU time.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kotel::component::{BoxFuture, ComponentError, Exporter, Processor, Release, Source};
use kotel::config::{ComponentId, ExporterConfig, ProcessorConfig, SourceConfig};
use kotel::event::{Batch, Event};
use kotel::pipeline::build::{ComponentFactory, Components};
use kotel::processors::aggregate::AggregateConfig;
use kotel::processors::k8s_cri::{CriService, K8sCriProcessor};
use kotel_integration_tests::alloc_count::CountingAllocator;
use kotel_integration_tests::connection_mix::{connection_batches, interval_records};
use kotel_integration_tests::steady_path::SteadyPath;
use kotel_integration_tests::warm_cri::WarmCri;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const CONTAINERS: usize = 2_000;
/// The `aggregate` config is the default but for this limit, which 2000 containers need
/// (the default, 2000 series per metric, sends most of their directed series to the
/// overflow series).
const CARDINALITY_LIMIT: usize = 10_000;
const BATCH: usize = 256;
const BATCHES_PER_ROUND: usize = 1_000;
const ROUNDS: usize = 7;
/// Events in the replay file, and how many times the file is read.
const REPLAY_EVENTS: usize = 65_536;
const REPLAY_REPEAT: u32 = 8;

fn main() {
    kotel::telemetry::install();
    let scratch = tempfile::tempdir().unwrap();
    let warm = WarmCri::start(scratch.path(), CONTAINERS);
    println!("k8s_cri cache warm: {CONTAINERS} containers; batches of {BATCH} events");
    steady_path(&warm);
    end_to_end(&warm, scratch.path());
}

/// The steady path on this thread: throughput, allocations, interval records, collection.
fn steady_path(warm: &WarmCri) {
    let config = AggregateConfig {
        cardinality_limit: CARDINALITY_LIMIT,
        ..AggregateConfig::default()
    };
    let mut path = SteadyPath::new(warm.service.clone(), &config);
    let round = connection_batches(&warm.cgroups, BATCHES_PER_ROUND, BATCH);
    let events = (BATCH * BATCHES_PER_ROUND) as f64;
    // Warm-up: every series and cached attribute set exists afterwards.
    path.count_allocations(round.clone());
    let allocations = path.count_allocations(round.clone());
    let overhead = rounds(&round, &mut |batch| batch);
    let timed = rounds(&round, &mut |batch| path.process(batch));
    println!(
        "steady path (k8s_cri + aggregate), tcp connection events:\n  \
         wall: best {:.0} ns/event = {:.2} M events/s, median {:.0}, worst {:.0} ns/event\n  \
         thread CPU: best {:.0} ns/event = {:.2} M events/s per core, median {:.0}, worst {:.0} ns/event\n  \
         (of which the bench's own copying and dropping of batches: {:.0} ns/event CPU)\n  \
         allocations: {:.4} per event ({allocations} over {events} events after a warm-up round)",
        timed.wall.min,
        1e3 / timed.wall.min,
        timed.wall.median,
        timed.wall.max,
        timed.cpu.min,
        1e3 / timed.cpu.min,
        timed.cpu.median,
        timed.cpu.max,
        overhead.cpu.min,
        allocations as f64 / events,
    );

    let records = |round: u64| interval_records(&warm.cgroups, 1_700_000_000_000_000_000 + round);
    path.count_allocations(vec![records(0)]);
    let n = records(0).len();
    let batches = || (1..=20).map(records).collect::<Vec<Batch>>();
    let allocations = path.count_allocations(batches());
    let started = (Instant::now(), thread_cpu());
    for batch in batches() {
        std::hint::black_box(path.process(batch));
    }
    let per = |d: Duration| d.as_nanos() as f64 / (20 * n) as f64;
    println!(
        "steady path, interval records (2 kernel histograms + counters per cgroup, {n} per interval):\n  \
         {:.0} ns/record wall, {:.0} ns/record CPU; allocations: {:.4} per record",
        per(started.0.elapsed()),
        per(thread_cpu() - started.1),
        allocations as f64 / (20 * n) as f64,
    );

    let started = Instant::now();
    let collected = path.aggregate.release(Release::All);
    let points: usize = collected
        .iter()
        .map(|e| match e {
            Event::Metrics(m) => m.metrics.iter().map(points_of).sum(),
            _ => 0,
        })
        .sum();
    println!(
        "one collection of every series: {points} points in {:.1} ms (once per interval, 15 s by default)",
        started.elapsed().as_secs_f64() * 1e3
    );
}

fn points_of(m: &kotel::event::Metric) -> usize {
    use kotel::event::MetricData;
    match &m.data {
        MetricData::Sum { points, .. } => points.len(),
        MetricData::Histogram { points, .. } => points.len(),
        MetricData::ExponentialHistogram { points, .. } => points.len(),
    }
}

/// Smallest, median and largest of repeated measurements.
struct Spread {
    min: f64,
    median: f64,
    max: f64,
}

struct Timed {
    wall: Spread,
    cpu: Spread,
}

/// Runs `step` on a fresh copy of every batch, [`ROUNDS`] times.
fn rounds(batches: &[Batch], step: &mut dyn FnMut(Batch) -> Batch) -> Timed {
    let events = (BATCH * batches.len()) as f64;
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let round = batches.to_vec();
        let started = (Instant::now(), thread_cpu());
        for batch in round {
            std::hint::black_box(step(batch));
        }
        wall.push(started.0.elapsed().as_nanos() as f64 / events);
        cpu.push((thread_cpu() - started.1).as_nanos() as f64 / events);
    }
    Timed {
        wall: spread(wall),
        cpu: spread(cpu),
    }
}

fn spread(mut v: Vec<f64>) -> Spread {
    v.sort_by(f64::total_cmp);
    Spread {
        min: v[0],
        median: v[v.len() / 2],
        max: v[v.len() - 1],
    }
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process (every thread).
fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The real runtime, from YAML, on one thread.
fn end_to_end(warm: &WarmCri, scratch: &std::path::Path) {
    let file = scratch.join("connections.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    for batch in connection_batches(&warm.cgroups, REPLAY_EVENTS / BATCH, BATCH) {
        for event in batch {
            serde_json::to_writer(&mut out, &event).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    out.flush().unwrap();
    drop(out);
    let events = REPLAY_EVENTS as f64 * REPLAY_REPEAT as f64;
    let processors = format!(
        "processors:\n  k8s_cri: {{}}\n  aggregate: {{ cardinality_limit: {CARDINALITY_LIMIT} }}\n"
    );
    for (what, processors, listed) in [
        (
            "replay -> k8s_cri -> aggregate -> null",
            processors.as_str(),
            "[k8s_cri, aggregate]",
        ),
        ("replay -> null (JSON decoding alone)", "", "[]"),
    ] {
        let yaml = format!(
            "sources:\n  replay: {{ path: {}, repeat: {REPLAY_REPEAT}, batch_max_events: {BATCH} }}\n\
             {processors}exporters:\n  debug/null: {{}}\n\
             pipelines:\n  metrics: {{ sources: [replay], processors: {listed}, exporters: [debug/null] }}\n\
             runtime: {{ when_full: block, block_timeout: 60s }}\ntelemetry: {{ interval: 0s }}\n",
            file.display()
        );
        let config = kotel::config::parse_str(&yaml, &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let factory = Arc::new(WarmFactory(warm.service.clone()));
        let mut wall = Vec::new();
        let mut cpu = Vec::new();
        for _ in 0..3 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let started = (Instant::now(), process_cpu());
            let report = runtime
                .block_on(kotel::pipeline::run_with(
                    &config,
                    Default::default(),
                    std::future::pending(),
                    factory.clone(),
                ))
                .unwrap();
            assert_eq!(report.reason, kotel::pipeline::StopReason::SourcesFinished);
            wall.push(events / started.0.elapsed().as_secs_f64() / 1e6);
            cpu.push(events / (process_cpu() - started.1).as_secs_f64() / 1e6);
        }
        let (wall, cpu) = (spread(wall), spread(cpu));
        println!(
            "end to end, {what} ({events} events, single-threaded runtime):\n  \
             wall: median {:.2} M events/s (range {:.2}-{:.2}); per CPU-second: median {:.2} M events (range {:.2}-{:.2})",
            wall.median,
            wall.min,
            wall.max,
            cpu.median,
            cpu.min,
            cpu.max,
        );
    }
}

/// The real components, except that `k8s_cri` uses the already warm service and every
/// exporter is [`Null`].
struct WarmFactory(Arc<CriService>);

impl ComponentFactory for WarmFactory {
    fn source(&self, id: &ComponentId, config: &SourceConfig) -> Box<dyn Source> {
        Components::default().source(id, config)
    }
    fn processor(&self, id: &ComponentId, config: &ProcessorConfig) -> Box<dyn Processor> {
        match config {
            ProcessorConfig::K8sCri(_) => Box::new(K8sCriProcessor::new(self.0.clone())),
            _ => Components::default().processor(id, config),
        }
    }
    fn exporter(&self, _: &ComponentId, _: &ExporterConfig) -> Box<dyn Exporter> {
        Box::new(Null)
    }
}

/// An exporter that discards every batch.
struct Null;

impl Exporter for Null {
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>> {
        std::hint::black_box(batch);
        Box::pin(async { Ok(()) })
    }
    fn flush(&mut self, _: tokio::time::Instant) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async { Ok(()) })
    }
}
