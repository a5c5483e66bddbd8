//! What the agent spends per HTTP request the `l7` source sees (a benchmark, not a timed
//! test), unprivileged: `cargo bench -p kotel-integration-tests --bench l7_agent_cost`.
//!
//! The kernel's records of one keep-alive request seen from both ends on one node (the
//! client writes the request, the server reads it, writes the response, the client reads
//! it: four records, two exchanges) are made once; then each stage runs on this thread
//! over [`REQUESTS`] requests, [`ROUNDS`] times:
//! - `tracker`: the records through the real `Tracker` (framing, pairing, ids);
//! - `+ aggregate`: its events through the real `aggregate` processor as well (the RED
//!   histograms, with exemplars);
//! - `+ spans`: the events encoded as an OTLP `ExportTraceServiceRequest` and serialized
//!   (what the exporter sends; the network is not included), batches of [`BATCH`].
//!
//! Reported per request: this thread's CPU time (best and median of the rounds) and the
//! allocations, counted over a whole round after a warm-up round. `scripts/bench.sh l7`
//! measures the whole agent and the kernel programs under real load.

use std::time::Duration;

use kotel::component::Processor;
use kotel::event::{Batch, Event, HttpEvent};
use kotel::exporters::otlp::encode_traces::traces_request;
use kotel::exporters::otlp::resource::resource;
use kotel::kernel::clock::ClockOffset;
use kotel::processors::aggregate::{AggregateConfig, AggregateProcessor};
use kotel::sources::l7::records::{ConnKey, Header, Opened, Record};
use kotel::sources::l7::route::Routes;
use kotel::sources::l7::tracker::{Limits, Tracker};
use kotel_integration_tests::alloc_count::{count_allocations, CountingAllocator};
use prost::Message;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const REQUESTS: usize = 20_000;
const ROUNDS: usize = 5;
/// Events per batch handed to `aggregate` and per export request.
const BATCH: usize = 512;

const CLIENT: ConnKey = ConnKey { tgid: 200, fd: 5 };
const SERVER: ConnKey = ConnKey { tgid: 100, fd: 9 };
const REQUEST: &[u8] = b"GET /api/orders/12345 HTTP/1.1\r\nHost: orders:8080\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"id\":12345,\"state\":\"shipped\",\"items\":[1,2,3,4],\"total\":\"99.95\"}\n";

fn main() {
    kotel::telemetry::install();
    println!(
        "l7 agent cost: {REQUESTS} keep-alive requests seen from both ends (2 exchanges each), {ROUNDS} rounds, batches of {BATCH}"
    );
    let mut stage = Stage::new();
    report("tracker", &mut stage, |_, _| {});
    let mut aggregate = AggregateProcessor::new("aggregate/bench", &AggregateConfig::default());
    report("+ aggregate", &mut stage, |batch, _| {
        std::hint::black_box(aggregate.process(batch));
    });
    let mut aggregate = AggregateProcessor::new("aggregate/bench", &AggregateConfig::default());
    let resource = resource("bench-node", &Default::default());
    report("+ aggregate + spans", &mut stage, |batch, bytes| {
        let https: Vec<&HttpEvent> = batch
            .iter()
            .filter_map(|e| match e {
                Event::Http(h) => Some(h),
                _ => None,
            })
            .collect();
        if let Some(request) = traces_request(&resource, &https) {
            *bytes += request.encoded_len();
            std::hint::black_box(request.encode_to_vec());
        }
        std::hint::black_box(aggregate.process(batch));
    });
}

/// The tracker with both ends of one connection open, and the time of the next request.
struct Stage {
    tracker: Tracker,
    now_ns: u64,
}

impl Stage {
    fn new() -> Self {
        let limits = Limits {
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(600),
            max_connections: 1024,
        };
        let mut tracker = Tracker::new(
            "l7",
            limits,
            Routes::new(&[]).0,
            ClockOffset::fixed(1_700_000_000_000_000_000),
            "/nonexistent".into(),
        );
        let mut out = Vec::new();
        for (key, server) in [(CLIENT, false), (SERVER, true)] {
            let (local, peer) = if server {
                ("10.0.0.1:8080", "10.0.0.2:40000")
            } else {
                ("10.0.0.2:40000", "10.0.0.1:8080")
            };
            tracker.record(
                Record::Open(
                    header(key, 1_000, 1_000, 0),
                    Opened {
                        server,
                        cgroup_id: 42 + u64::from(server),
                        comm: if server { "orders" } else { "frontend" }.into(),
                        local: local.parse().unwrap(),
                        peer: peer.parse().unwrap(),
                    },
                ),
                &mut out,
            );
        }
        Self {
            tracker,
            now_ns: 10_000,
        }
    }

    /// One request's four records; the events they end are appended to `out`.
    fn request(&mut self, out: &mut Vec<Event>) {
        let t = self.now_ns;
        let steps: [(ConnKey, bool, &[u8]); 4] = [
            (CLIENT, true, REQUEST),
            (SERVER, false, REQUEST),
            (SERVER, true, RESPONSE),
            (CLIENT, false, RESPONSE),
        ];
        for (i, (key, send, bytes)) in steps.into_iter().enumerate() {
            let start = t + i as u64 * 10_000;
            self.tracker.record(
                Record::Data {
                    header: header(key, start, start + 2_000, bytes.len() as u64),
                    send,
                    bytes,
                },
                out,
            );
        }
        self.now_ns += 100_000;
    }
}

fn header(key: ConnKey, start_ns: u64, end_ns: u64, size: u64) -> Header {
    Header {
        key,
        opened_ns: 1_000,
        start_ns,
        end_ns,
        size,
        offset: 0,
        flags: 0,
    }
}

/// Runs [`REQUESTS`] requests through the tracker and `then` (given each batch of
/// [`BATCH`] events, to consume, and a byte counter), [`ROUNDS`] times plus a counted round, and
/// prints the CPU time and allocations per request.
fn report(name: &str, stage: &mut Stage, mut then: impl FnMut(Batch, &mut usize)) {
    let mut round = |bytes: &mut usize| {
        let mut batch: Batch = Vec::with_capacity(BATCH + 4);
        let mut events = 0;
        for _ in 0..REQUESTS {
            stage.request(&mut batch);
            if batch.len() >= BATCH {
                events += batch.len();
                then(
                    std::mem::replace(&mut batch, Vec::with_capacity(BATCH + 4)),
                    bytes,
                );
            }
        }
        events += batch.len();
        then(batch, bytes);
        events
    };
    let mut cpu = Vec::new();
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let started = thread_cpu();
        let events = round(&mut bytes);
        assert_eq!(events, 2 * REQUESTS, "every request makes two exchanges");
        cpu.push((thread_cpu() - started).as_nanos() as f64 / REQUESTS as f64);
    }
    let (_, allocations) = count_allocations(|| round(&mut bytes));
    cpu.sort_by(f64::total_cmp);
    let per_span = bytes as f64 / (2 * REQUESTS * (ROUNDS + 1)) as f64;
    println!(
        "  {name:<22} {:>7.0} ns/request best, {:>7.0} median; {:>5.1} allocations/request{}",
        cpu[0],
        cpu[cpu.len() / 2],
        allocations as f64 / REQUESTS as f64,
        if bytes > 0 {
            format!("; {per_span:.0} bytes/span encoded")
        } else {
            String::new()
        }
    );
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
