//! The real `kotel` binary under exporter faults and process death, as root, with the real
//! kernel programs, a real OTLP receiver (rotel) and a loopback connection storm whose
//! counts the test knows (each storm on a listener port of its own, which the agent's
//! kernel filter selects, so nothing else on the machine enters the counts):
//!
//! - The receiver goes away for 30 s under continuous traffic, then comes back: the
//!   agent's memory stays under a ceiling derived from its exporter queue bounds, every
//!   record it could not deliver is counted as dropped, export resumes within a second or
//!   so, and the counts reconcile exactly (see the test).
//! - A backend that accepts connections and completes HTTP/2 but never answers: the
//!   pipeline does not stall (Prometheus serves, kernel events are counted, a second
//!   exporter to the real receiver delivers exact counts), memory and queue stay bounded,
//!   timeouts are counted; once the backend relays to the real receiver, export resumes.
//! - SIGTERM during a connection storm: exit 0 well within `runtime.shutdown_timeout`,
//!   and the final collection reaches the receiver with every connection made before.
//! - SIGKILL: the kernel frees every program, map and link the agent held, and no kotel
//!   program is left that no process holds (as a program attached to a cgroup without a
//!   link would be; none of today's programs attaches there, the check guards the
//!   cgroup2 root all the same); a new agent then counts connections and stops clean.
//!
//! Needs `scripts/setup-receivers.sh` (rotel) and bpftool; skipped, saying so, without.

mod reliability {
    pub mod agent;
    pub mod bpf;
    pub mod outage;
    pub mod sigkill;
    pub mod sigterm;
    pub mod slow_backend;
    pub mod stall;
    pub mod storm;
}

use std::time::{Duration, Instant};

use kotel_integration_tests::rotel::{self, Received};
use kotel_integration_tests::{is_root, skip};
use reliability::agent::{RunningAgent, Scrape};

fn ready(test: &str) -> bool {
    if !is_root() {
        skip(test, "the tcp source needs root");
        return false;
    }
    if let Err(why) = rotel::available() {
        skip(test, &why);
        return false;
    }
    true
}

/// The value of the last `metric` point with `server.port` = `port` and `direction`
/// received (all requests, in arrival order), filtered by resource attribute
/// `exporter` = `via` when given.
fn last_count(
    received: &Received,
    metric: &str,
    port: u16,
    direction: &str,
    via: Option<&str>,
) -> Option<f64> {
    let port = port.to_string();
    let attributes = [("server.port", port.as_str()), ("direction", direction)];
    received
        .metrics_named(metric)
        .filter(|m| via.is_none_or(|v| m.resource.get("exporter").map(String::as_str) == Some(v)))
        .filter_map(|m| m.points.iter().find(|p| p.has_attributes(&attributes)))
        .filter_map(|p| p.value.as_f64())
        .last()
}

/// Data points in everything received.
fn data_points(received: &Received) -> usize {
    received.metrics.iter().map(|m| m.points.len()).sum()
}

/// Sampled resident memory: the largest seen.
#[derive(Default)]
struct Peak {
    rss_kib: u64,
}

impl Peak {
    fn sample(&mut self, agent: &RunningAgent) {
        self.rss_kib = self.rss_kib.max(agent.rss_kib());
    }
}

const MIB: u64 = 1024 * 1024;

/// Encoded bytes each exporter's queue may hold in the tests (`queue.max_bytes`).
const QUEUE_BYTES: u64 = MIB;
/// Upper bound of a queued request's size in memory over its encoded size: the decoded
/// protobuf keeps every key and string in a heap `String` (24-byte header plus the
/// allocation, rounded up) and every attribute in a `KeyValue`/`AnyValue` pair (~56
/// bytes) where the encoding spends 2-3 bytes of framing. Measured with this test's load
/// and a 32 MiB queue: 85 MiB of RSS growth for 25.5 MiB queued, 3.3x.
const DECODED_OVER_ENCODED: u64 = 4;
/// What the allocator may keep beyond the live data: freed chunks it has not returned,
/// one arena per thread that allocated during the outage (tonic's and tokio's workers).
/// Measured with a 1 MiB queue: 2.5 MiB of growth in all.
const ALLOCATOR_SLACK_KIB: u64 = 8 * 1024;

const SENT: &str = "kotel_exporter_otlp_sent_total";
const SENT_BYTES: &str = "kotel_exporter_otlp_sent_bytes_total";
const DROPPED: &str = "kotel_exporter_otlp_dropped_total";
const QUEUE_BYTES_GAUGE: &str = "kotel_exporter_otlp_queue_bytes";
const QUEUE_REQUESTS_GAUGE: &str = "kotel_exporter_otlp_queue_requests";
const TAKEN_IN: &str = "kotel_component_events_received_total";

/// One OTLP exporter's counts from a scrape.
#[derive(Debug)]
struct Ledger {
    /// Events handed to the exporter (for a logs-only exporter: log records).
    taken_in: f64,
    /// Items the backend accepted.
    sent: f64,
    /// Items dropped, every reason.
    dropped: f64,
    /// Requests waiting.
    queued: f64,
}

impl Ledger {
    fn of(scrape: &Scrape, component: &str) -> Ledger {
        let id = [("component_id", component)];
        Ledger {
            taken_in: scrape.sum(
                TAKEN_IN,
                &[("component_id", component), ("component_kind", "exporter")],
            ),
            sent: scrape.sum(SENT, &id),
            dropped: scrape.sum(DROPPED, &id),
            queued: scrape.sum(QUEUE_REQUESTS_GAUGE, &id),
        }
    }

    /// Nothing waits and everything taken in is sent or counted dropped.
    fn balanced(&self) -> bool {
        self.queued == 0.0 && self.taken_in == self.sent + self.dropped
    }
}

/// The RSS ceiling for an agent measured at `baseline_kib` with the receivers there, when
/// `queues` exporter queues of [`QUEUE_BYTES`] each may fill.
fn ceiling_kib(baseline_kib: u64, queues: u64) -> u64 {
    baseline_kib + queues * QUEUE_BYTES * DECODED_OVER_ENCODED / 1024 + ALLOCATOR_SLACK_KIB
}

/// Polls `done` every 50 ms; panics naming `what` after `timeout`.
fn wait_for(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
