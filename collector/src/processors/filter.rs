//! The `filter` processor: keeps the events that match `include` (everything when it is
//! empty) and do not match `exclude`. Connection conditions (`kinds`, `comms`, `ports`)
//! look at TCP connection events only; workload conditions (`namespaces`, `pods`,
//! `containers`) look at every event a source attributes to a workload (connections,
//! RTT/latency histograms, retransmit/reset counters, execs, file opens), as the `k8s_cri`
//! processor attributed it, so they belong after `k8s_cri` in a pipeline. An event a match
//! does not apply to (an exec under a match with `ports`; the agent's own telemetry and
//! aggregated metrics under any match) is kept by `include` and not dropped by `exclude`.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::component::kind::{Declared, Kind, ProcessorType, Shared};
use crate::component::Processor;
use crate::event::{keys, Batch, Event, TcpConnEvent, TcpEventKind, Workload};
use crate::settings::{ComponentId, Signal};

/// `processors.filter`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterProcessorConfig {
    /// Keep only events matching this (an empty match keeps everything).
    pub include: EventMatch,
    /// Drop events matching this (an empty match drops nothing).
    pub exclude: EventMatch,
}

/// Conditions on an event: every non-empty list must contain the event's value (lists
/// are alternatives, fields must all hold).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventMatch {
    /// Connection event kinds: `connect`, `accept`, `connect_failed`, `close`.
    pub kinds: Vec<TcpEventKind>,
    /// Process names of connection events as the kernel reports them (`comm`, at most 15
    /// bytes).
    pub comms: Vec<String>,
    /// Ports; a connection event matches if its local or remote port is listed.
    pub ports: Vec<u16>,
    /// `k8s.namespace.name` values; an event without one (the host's, or one not
    /// attributed) does not match.
    pub namespaces: Vec<String>,
    /// `k8s.pod.name` values, as `namespaces`.
    pub pods: Vec<String>,
    /// `k8s.container.name` values, as `namespaces`.
    pub containers: Vec<String>,
}

/// [`EventMatch`] prepared for lookups.
struct Matcher {
    kinds: HashSet<TcpEventKind>,
    comms: HashSet<String>,
    ports: HashSet<u16>,
    /// Workload attribute key -> accepted values, for the non-empty workload lists.
    workload: Vec<(&'static str, HashSet<String>)>,
}

impl Matcher {
    fn new(m: &EventMatch) -> Option<Self> {
        let workload: Vec<(&'static str, HashSet<String>)> = [
            (keys::NAMESPACE, &m.namespaces),
            (keys::POD_NAME, &m.pods),
            (keys::CONTAINER_NAME, &m.containers),
        ]
        .into_iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(key, values)| (key, values.iter().cloned().collect()))
        .collect();
        let matcher = Self {
            kinds: m.kinds.iter().copied().collect(),
            comms: m.comms.iter().cloned().collect(),
            ports: m.ports.iter().copied().collect(),
            workload,
        };
        (matcher.has_connection_conditions() || !matcher.workload.is_empty()).then_some(matcher)
    }

    fn has_connection_conditions(&self) -> bool {
        !(self.kinds.is_empty() && self.comms.is_empty() && self.ports.is_empty())
    }

    /// Whether `event` matches; `None` when the match does not apply to it (connection
    /// conditions on another kind of event, or any condition on an event that is never
    /// attributed).
    fn matches(&self, event: &Event) -> Option<bool> {
        let connection = match event {
            Event::Tcp(e) => Some(e),
            _ if self.has_connection_conditions() => return None,
            _ => None,
        };
        let attribution = event.attribution()?;
        let connection_holds = connection.is_none_or(|e| self.connection_matches(e));
        Some(connection_holds && self.workload_matches(attribution.as_deref()))
    }

    fn connection_matches(&self, e: &TcpConnEvent) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && (self.comms.is_empty() || self.comms.contains(&*e.comm))
            && (self.ports.is_empty()
                || self.ports.contains(&e.local_port)
                || self.ports.contains(&e.remote_port))
    }

    fn workload_matches(&self, workload: Option<&Workload>) -> bool {
        self.workload.iter().all(|(key, values)| {
            workload
                .and_then(|w| w.get(key))
                .is_some_and(|v| values.contains(v))
        })
    }
}

/// The running filter.
pub struct FilterProcessor {
    include: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl FilterProcessor {
    /// A filter for `config`.
    pub fn new(config: &FilterProcessorConfig) -> Self {
        Self {
            include: Matcher::new(&config.include),
            exclude: Matcher::new(&config.exclude),
        }
    }

    fn keeps(&self, event: &Event) -> bool {
        let included = self
            .include
            .as_ref()
            .is_none_or(|m| m.matches(event) != Some(false));
        let excluded = self
            .exclude
            .as_ref()
            .is_some_and(|m| m.matches(event) == Some(true));
        included && !excluded
    }
}

impl Processor for FilterProcessor {
    fn process(&mut self, mut batch: Batch) -> Batch {
        batch.retain(|e| self.keeps(e));
        batch
    }
}

impl Kind for FilterProcessorConfig {
    const KIND: &'static str = "filter";
}

impl Declared for FilterProcessorConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Metrics, Signal::Logs, Signal::Traces]
    }
}

impl ProcessorType for FilterProcessorConfig {
    fn build(&self, id: &ComponentId, _shared: &Shared) -> Box<dyn Processor> {
        let _ = id;
        Box::new(FilterProcessor::new(self))
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
