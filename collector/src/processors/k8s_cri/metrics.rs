//! The `k8s_cri` processor's self-telemetry (`kotel.k8s_cri.*`), labelled with its id.

use metrics::{Counter, Gauge};

use crate::processors::k8s_cri::catalog::Housekeeping;
use crate::telemetry::names;

/// Counters and gauges of one `k8s_cri` processor.
#[derive(Clone)]
pub struct CriMetrics {
    component: String,
    /// Lookups that found a container.
    pub hit: Counter,
    /// Lookups that found a host process.
    pub host: Counter,
    /// Lookups of a container not described yet.
    pub pending: Counter,
    /// Lookups that found nothing.
    pub miss: Counter,
    /// Events whose source knew no cgroup (cgroup id 0), not looked up.
    pub no_cgroup: Counter,
    /// Held events attributed when their container was described.
    pub held_attributed: Counter,
    /// Held events sent unattributed after the hold time.
    pub held_expired: Counter,
    /// Events not held because the hold was full.
    pub held_overflow: Counter,
    /// Held events released unattributed at shutdown.
    pub held_shutdown: Counter,
    /// Requests the CRI task's queue had no room for.
    pub requests_dropped: Counter,
    evictions: Counter,
    cache_size: Gauge,
    connected: Gauge,
}

impl CriMetrics {
    /// The metrics of processor `component`.
    pub fn new(component: &str) -> Self {
        let lookup = |result: &'static str| metrics::counter!(names::K8S_CRI_LOOKUPS, names::COMPONENT_ID => component.to_string(), "result" => result);
        let hold = |outcome: &'static str| metrics::counter!(names::K8S_CRI_HOLD, names::COMPONENT_ID => component.to_string(), "outcome" => outcome);
        let id = || component.to_string();
        Self {
            hit: lookup("hit"),
            host: lookup("host"),
            pending: lookup("pending"),
            miss: lookup("miss"),
            no_cgroup: lookup("no_cgroup"),
            held_attributed: hold("attributed"),
            held_expired: hold("expired"),
            held_overflow: hold("overflow"),
            held_shutdown: hold("shutdown"),
            requests_dropped: metrics::counter!(names::K8S_CRI_REQUESTS_DROPPED, names::COMPONENT_ID => id()),
            evictions: metrics::counter!(names::K8S_CRI_CACHE_EVICTIONS, names::COMPONENT_ID => id()),
            cache_size: metrics::gauge!(names::K8S_CRI_CACHE_CONTAINERS, names::COMPONENT_ID => id()),
            connected: metrics::gauge!(names::K8S_CRI_CONNECTED, names::COMPONENT_ID => id()),
            component: id(),
        }
    }

    /// The processor's component id.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Counts a runtime answer that was not used, by `reason`.
    pub fn rejected(&self, reason: &'static str) {
        metrics::counter!(names::K8S_CRI_REJECTED, names::COMPONENT_ID => self.component.clone(), names::REASON => reason).increment(1);
    }

    /// Counts a connection attempt by `outcome`.
    pub fn connect(&self, outcome: &'static str) {
        metrics::counter!(names::K8S_CRI_CONNECTS, names::COMPONENT_ID => self.component.clone(), "outcome" => outcome).increment(1);
    }

    /// Sets the connected gauge.
    pub fn connected(&self, up: bool) {
        self.connected.set(if up { 1.0 } else { 0.0 });
    }

    /// Sets the cache size gauge.
    pub fn cache_size(&self, containers: usize) {
        self.cache_size.set(containers as f64);
    }

    /// Counts evictions and cgroup conflicts.
    pub fn housekeeping(&self, counts: Housekeeping) {
        self.evictions.increment(counts.evicted);
        if counts.conflicts > 0 {
            metrics::counter!(names::K8S_CRI_REJECTED, names::COMPONENT_ID => self.component.clone(), names::REASON => "cgroup_conflict").increment(counts.conflicts);
        }
    }
}
