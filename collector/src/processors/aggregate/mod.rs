//! The `aggregate` processor: turns TCP events, per-cgroup counters and the kernel's
//! histograms into metrics per attribute set (see [`instruments`]), and hands a
//! [`MetricBatch`](crate::event::MetricBatch) on every `interval`. Events it aggregates
//! leave the pipeline (counted as `reason="aggregated"`); every other event passes.

pub mod config;
pub mod instruments;
pub mod store;
pub mod values;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::{
    unix_now, Attributes, Batch, CgroupHistogram, Direction, Event, HistogramMetric, TcpConnEvent,
    TcpCounters, TcpEventKind, Workload,
};
use crate::pipeline::{Processor, Release};

use config::DEFAULT_SECONDS_BUCKETS;
pub use config::{AggregateConfig, Peer};
use instruments::Instrument;
use store::Store;
use values::{Explicit, Exponential, Value};

/// One pipeline's aggregate processor.
pub struct AggregateProcessor {
    config: AggregateConfig,
    store: Store,
    next_collection: Instant,
    /// Explicit bounds per histogram instrument that has them.
    bounds: HashMap<Instrument, Arc<[f64]>>,
}

impl AggregateProcessor {
    /// A processor for `config` whose first collection is one interval from now.
    pub fn new(component: &str, config: &AggregateConfig) -> Self {
        let mut bounds: HashMap<Instrument, Arc<[f64]>> = config
            .histograms
            .iter()
            .filter_map(|(name, h)| {
                Instrument::by_name(name).map(|i| (i, Arc::from(h.buckets.as_slice())))
            })
            .collect();
        bounds
            .entry(Instrument::Duration)
            .or_insert_with(|| Arc::from(DEFAULT_SECONDS_BUCKETS));
        Self {
            store: Store::new(
                component,
                config.cardinality_limit,
                config.series_ttl,
                config.temporality,
                unix_now(),
            ),
            next_collection: Instant::now() + config.interval,
            config: config.clone(),
            bounds,
        }
    }

    /// Folds `event` into the metrics; false when it is not an event this processor
    /// aggregates (it then passes on).
    fn absorb(&mut self, event: &Event, now: (Instant, u64)) -> bool {
        match event {
            Event::Tcp(e) => self.connection(e, now),
            Event::TcpCounters(c) => self.counters(c, now),
            Event::Histogram(h) => self.histogram(h, now),
            _ => return false,
        }
        true
    }

    fn connection(&mut self, e: &TcpConnEvent, now: (Instant, u64)) {
        let mut base = self.workload_attributes(e.workload.as_ref());
        if self.config.peer == Peer::Address {
            let server_port = match e.direction {
                Direction::Inbound => e.local_port,
                _ => e.remote_port,
            };
            base.push(("network.peer.address".into(), e.remote_addr.to_string()));
            base.push(("server.port".into(), server_port.to_string()));
        }
        let with = |extra: &[(&str, &str)]| with_extra(&base, extra);
        // One attribute set for every directed metric of the event.
        let directed = || with(&[("direction", e.direction.as_str())]);
        match e.kind {
            TcpEventKind::Connect | TcpEventKind::Accept => {
                let directed = directed();
                self.add(Instrument::Opened, directed.clone(), now, 1);
                self.add(Instrument::Open, directed, now, 1);
            }
            TcpEventKind::ConnectFailed => self.add(Instrument::Failed, with(&[]), now, 1),
            TcpEventKind::Close => {
                let directed = directed();
                self.add(Instrument::Closed, directed.clone(), now, 1);
                self.add(Instrument::Open, directed.clone(), now, -1);
                if let Some(ns) = e.duration_ns {
                    self.observe(Instrument::Duration, directed, now, ns as f64 / 1e9);
                }
                if let Some(stats) = &e.stats {
                    let sent = [("network.io.direction", "transmit")];
                    let received = [("network.io.direction", "receive")];
                    self.add(Instrument::Io, with(&sent), now, stats.bytes_sent as i64);
                    self.add(
                        Instrument::Io,
                        with(&received),
                        now,
                        stats.bytes_received as i64,
                    );
                }
            }
        }
    }

    fn counters(&mut self, c: &TcpCounters, now: (Instant, u64)) {
        let base = self.workload_attributes(c.workload.as_ref());
        let with = |extra: Option<(&str, &str)>| with_extra(&base, extra.as_slice());
        self.add(
            Instrument::Retransmits,
            with(None),
            now,
            c.retransmits as i64,
        );
        self.add(
            Instrument::Resets,
            with(Some(("direction", "sent"))),
            now,
            c.resets_sent as i64,
        );
        self.add(
            Instrument::Resets,
            with(Some(("direction", "received"))),
            now,
            c.resets_received as i64,
        );
    }

    fn histogram(&mut self, h: &CgroupHistogram, now: (Instant, u64)) {
        let instrument = match h.metric {
            HistogramMetric::TcpRtt => Instrument::Rtt,
            HistogramMetric::TcpConnectLatency => Instrument::ConnectLatency,
        };
        let attributes = sorted(self.workload_attributes(h.workload.as_ref()));
        match self.bounds.get(&instrument).cloned() {
            Some(bounds) => self.explicit(instrument, attributes, now, bounds, |e| {
                e.record_exponential(h)
            }),
            None => self.store.update(
                instrument,
                attributes,
                now,
                || Value::Exponential(Exponential::default()),
                |v| {
                    if let Value::Exponential(e) = v {
                        if !e.merge(h) {
                            tracing::warn!(
                                scale = h.scale,
                                "kernel histogram at an unexpected scale; not merged"
                            );
                        }
                    }
                },
            ),
        }
    }

    fn add(&mut self, instrument: Instrument, attributes: Attributes, now: (Instant, u64), n: i64) {
        self.store.update(
            instrument,
            attributes,
            now,
            || Value::Sum(0),
            |v| {
                if let Value::Sum(sum) = v {
                    *sum = sum.saturating_add(n);
                }
            },
        );
    }

    fn observe(
        &mut self,
        instrument: Instrument,
        attributes: Attributes,
        now: (Instant, u64),
        x: f64,
    ) {
        let bounds = self
            .bounds
            .get(&instrument)
            .cloned()
            .unwrap_or_else(|| Arc::from(DEFAULT_SECONDS_BUCKETS));
        self.explicit(instrument, attributes, now, bounds, |e| e.record(x, 1));
    }

    /// Applies `record` to the explicit-bucket series (made with `bounds` if new).
    fn explicit(
        &mut self,
        instrument: Instrument,
        attributes: Attributes,
        now: (Instant, u64),
        bounds: Arc<[f64]>,
        record: impl FnOnce(&mut Explicit),
    ) {
        self.store.update(
            instrument,
            attributes,
            now,
            || Value::Explicit(Explicit::new(bounds)),
            |v| {
                if let Value::Explicit(e) = v {
                    record(e);
                }
            },
        );
    }

    /// The configured attributes of the event's workload.
    fn workload_attributes(&self, workload: Option<&Arc<Workload>>) -> Vec<(String, String)> {
        let Some(workload) = workload else {
            return Vec::new();
        };
        self.config
            .attributes
            .iter()
            .filter_map(|key| workload.get(key).map(|v| (key.clone(), v.to_string())))
            .collect()
    }

    fn collect(&mut self) -> Batch {
        let batch = self.store.collect((Instant::now(), unix_now()));
        vec![Event::Metrics(batch)]
    }
}

impl Processor for AggregateProcessor {
    fn process(&mut self, mut batch: Batch) -> Batch {
        let now = (Instant::now(), unix_now());
        batch.retain(|event| !self.absorb(event, now));
        batch
    }

    fn next_release(&self) -> Option<Instant> {
        Some(self.next_collection)
    }

    fn release(&mut self, which: Release) -> Batch {
        match which {
            Release::Due(now) if now < self.next_collection => Vec::new(),
            Release::Due(now) => {
                // Skip whole intervals missed (a stalled runtime), keeping the phase.
                while self.next_collection <= now {
                    self.next_collection += self.config.interval.max(Duration::from_millis(1));
                }
                self.collect()
            }
            Release::All => self.collect(),
        }
    }

    fn drop_reason(&self) -> &'static str {
        "aggregated"
    }
}

/// `base` plus `extra`, as a shared, key-sorted set.
fn with_extra(base: &[(String, String)], extra: &[(&str, &str)]) -> Attributes {
    let mut attributes = base.to_vec();
    attributes.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    sorted(attributes)
}

/// Attribute pairs as a shared, key-sorted set.
fn sorted(mut pairs: Vec<(String, String)>) -> Attributes {
    pairs.sort();
    Arc::from(pairs)
}

#[cfg(test)]
mod tests;
