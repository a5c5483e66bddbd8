//! Edges between stages: bounded channels with a drop policy, and the per-component
//! counters the runtime keeps for them. A full channel never stalls a sender for longer
//! than the policy allows; what cannot be delivered is dropped and counted.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use metrics::Counter;
use tokio::sync::mpsc;

use crate::event::Batch;
use crate::settings::{ComponentId, RuntimeConfig, WhenFull};
use crate::telemetry::names;

/// How a sender behaves when the channel is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendPolicy {
    /// Drop the batch at once.
    DropNewest,
    /// Wait up to the duration for room, then drop.
    Block(Duration),
}

impl SendPolicy {
    /// The policy `runtime.when_full` / `runtime.block_timeout` ask for.
    pub fn from_runtime(runtime: &RuntimeConfig) -> Self {
        match runtime.when_full {
            WhenFull::DropNewest => SendPolicy::DropNewest,
            WhenFull::Block => SendPolicy::Block(runtime.block_timeout),
        }
    }
}

/// Counters for one component, with its id and kind as labels; created once at build
/// time so the per-batch path does no registry lookups.
#[derive(Clone)]
pub struct ComponentCounters {
    /// Events received.
    pub received: Counter,
    /// Events handed on.
    pub sent: Counter,
    /// Events dropped because a downstream channel was full.
    pub dropped_queue_full: Counter,
    /// Runtime failures.
    pub errors: Counter,
}

impl ComponentCounters {
    /// Registers the counters of `id`, a component of `kind` (`source`, `processor`,
    /// `exporter`, `pipeline`, `record`).
    pub fn new(kind: &'static str, id: &str) -> Self {
        let labels = [
            (names::COMPONENT_ID, id.to_string()),
            (names::COMPONENT_KIND, kind.to_string()),
        ];
        let dropped = |reason: &'static str| {
            let mut l = labels.to_vec();
            l.push((names::REASON, reason.to_string()));
            metrics::counter!(names::EVENTS_DROPPED, &l)
        };
        Self {
            received: metrics::counter!(names::EVENTS_RECEIVED, &labels),
            sent: metrics::counter!(names::EVENTS_SENT, &labels),
            dropped_queue_full: dropped("queue_full"),
            errors: metrics::counter!(names::COMPONENT_ERRORS, &labels),
        }
    }

    /// A counter of events dropped for `reason` by this component.
    pub fn dropped(kind: &'static str, id: &str, reason: &'static str) -> Counter {
        metrics::counter!(
            names::EVENTS_DROPPED,
            names::COMPONENT_ID => id.to_string(),
            names::COMPONENT_KIND => kind,
            names::REASON => reason
        )
    }
}

/// The sending half of one bounded channel into a consumer.
#[derive(Clone)]
pub struct Edge {
    tx: mpsc::Sender<Batch>,
    policy: SendPolicy,
}

impl Edge {
    /// An edge over `tx` with `policy`.
    pub fn new(tx: mpsc::Sender<Batch>, policy: SendPolicy) -> Self {
        Self { tx, policy }
    }

    /// A handle that does not keep the channel open (for depth probes).
    pub fn downgrade(&self) -> mpsc::WeakSender<Batch> {
        self.tx.downgrade()
    }

    /// Delivers `batch` under the policy; `false` if it was dropped (full or closed).
    pub async fn deliver(&self, batch: Batch) -> bool {
        match self.policy {
            SendPolicy::DropNewest => self.tx.try_send(batch).is_ok(),
            SendPolicy::Block(limit) => {
                matches!(
                    tokio::time::timeout(limit, self.tx.send(batch)).await,
                    Ok(Ok(()))
                )
            }
        }
    }
}

/// Sends `batch` to every edge (cloning for all but the last), counting each delivery as
/// sent and each failure as dropped (`queue_full`) on `counters`.
pub async fn fan_out(edges: &[Edge], batch: Batch, counters: &ComponentCounters) {
    let n = batch.len() as u64;
    if n == 0 {
        return;
    }
    if let Some((last, rest)) = edges.split_last() {
        for edge in rest {
            count(edge.deliver(batch.clone()).await, n, counters);
        }
        count(last.deliver(batch).await, n, counters);
    }
}

fn count(delivered: bool, n: u64, counters: &ComponentCounters) {
    if delivered {
        counters.sent.increment(n);
    } else {
        counters.dropped_queue_full.increment(n);
    }
}

/// The edges a running stage sends to, which a reload replaces in place (the stage
/// keeps running; its next batch takes the new edges). Clones share the edges.
#[derive(Clone)]
pub struct Route(Arc<RwLock<Arc<[Edge]>>>);

impl Route {
    /// A route over `edges`.
    pub fn new(edges: Vec<Edge>) -> Self {
        Self(Arc::new(RwLock::new(edges.into())))
    }

    /// Replaces the edges; senders dropped here let their channels close.
    pub fn set(&self, edges: Vec<Edge>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = edges.into();
    }

    /// The edges now.
    pub fn current(&self) -> Arc<[Edge]> {
        Arc::clone(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where a source sends its batches: every pipeline that lists it (and the recorder, when
/// `kotel run --record` is on). The runtime counts each batch sent or dropped.
#[derive(Clone)]
pub struct SourceOutput {
    route: Route,
    counters: ComponentCounters,
}

impl SourceOutput {
    /// An output for source `id` feeding `edges`.
    pub fn new(id: &ComponentId, edges: Vec<Edge>) -> Self {
        Self::routed(id, Route::new(edges))
    }

    /// An output for source `id` feeding whatever `route` holds.
    pub fn routed(id: &ComponentId, route: Route) -> Self {
        Self {
            route,
            counters: ComponentCounters::new("source", &id.to_string()),
        }
    }

    /// An output into one channel of `capacity` batches, for tests and tools that drive a
    /// source by hand. Sends wait up to 5 s for room, so tests see every event.
    pub fn for_test(capacity: usize) -> (Self, mpsc::Receiver<Batch>) {
        let (tx, rx) = mpsc::channel(capacity);
        let id: ComponentId = "test".parse().expect("static id");
        (
            Self::new(
                &id,
                vec![Edge::new(tx, SendPolicy::Block(Duration::from_secs(5)))],
            ),
            rx,
        )
    }

    /// Sends one batch (empty batches are ignored). Returns after at most the policy's
    /// wait per edge; never fails. Counts the events once as `received` (what the source
    /// produced) and per edge as `sent` or `dropped`.
    pub async fn send(&self, batch: Batch) {
        self.counters.received.increment(batch.len() as u64);
        fan_out(&self.route.current(), batch, &self.counters).await;
    }
}
