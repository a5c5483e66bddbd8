//! The `filter` processor: keeps the events that match `include` (everything when it is
//! empty) and do not match `exclude`. It looks at TCP connection events; every other
//! event (histograms, counters, execs, file opens, self-telemetry) passes.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::event::{Batch, Event, TcpConnEvent, TcpEventKind};
use crate::pipeline::Processor;

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
    /// Event kinds: `connect`, `accept`, `connect_failed`, `close`.
    pub kinds: Vec<TcpEventKind>,
    /// Process names as the kernel reports them (`comm`, at most 15 bytes).
    pub comms: Vec<String>,
    /// Ports; an event matches if its local or remote port is listed.
    pub ports: Vec<u16>,
}

impl EventMatch {
    fn is_empty(&self) -> bool {
        self.kinds.is_empty() && self.comms.is_empty() && self.ports.is_empty()
    }
}

/// [`EventMatch`] prepared for lookups.
struct Matcher {
    kinds: HashSet<TcpEventKind>,
    comms: HashSet<String>,
    ports: HashSet<u16>,
}

impl Matcher {
    fn new(m: &EventMatch) -> Option<Self> {
        (!m.is_empty()).then(|| Self {
            kinds: m.kinds.iter().copied().collect(),
            comms: m.comms.iter().cloned().collect(),
            ports: m.ports.iter().copied().collect(),
        })
    }

    fn matches(&self, e: &TcpConnEvent) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&e.kind))
            && (self.comms.is_empty() || self.comms.contains(&e.comm))
            && (self.ports.is_empty()
                || self.ports.contains(&e.local_port)
                || self.ports.contains(&e.remote_port))
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
        match event {
            Event::Tcp(e) => {
                self.include.as_ref().is_none_or(|m| m.matches(e))
                    && !self.exclude.as_ref().is_some_and(|m| m.matches(e))
            }
            // Only connection events are filtered here; the kernel-side filters of each
            // source cover the others.
            Event::TcpCounters(_)
            | Event::Histogram(_)
            | Event::Exec(_)
            | Event::FileOpen(_)
            | Event::Telemetry(_)
            | Event::Metrics(_) => true,
        }
    }
}

impl Processor for FilterProcessor {
    fn process(&mut self, mut batch: Batch) -> Batch {
        batch.retain(|e| self.keeps(e));
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::tests::tcp_event;

    fn kept(config: &str, batch: Batch) -> Vec<u16> {
        let config: FilterProcessorConfig = yaml_serde::from_str(config).unwrap();
        FilterProcessor::new(&config)
            .process(batch)
            .into_iter()
            .map(|e| match e {
                Event::Tcp(t) => t.remote_port,
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn empty_filter_keeps_everything() {
        assert_eq!(kept("{}", vec![tcp_event(1), tcp_event(2)]), vec![1, 2]);
    }

    #[test]
    fn include_and_exclude_combine() {
        let batch = (1..=5).map(tcp_event).collect();
        assert_eq!(
            kept(
                "include: { ports: [1, 2, 3] }\nexclude: { ports: [2] }",
                batch
            ),
            vec![1, 3]
        );
    }

    #[test]
    fn fields_must_all_match_and_lists_are_alternatives() {
        let batch = vec![tcp_event(1), tcp_event(2)];
        assert_eq!(
            kept(
                "include: { comms: [curl, wget], ports: [2] }",
                batch.clone()
            ),
            vec![2]
        );
        assert_eq!(
            kept("include: { comms: [wget] }", batch.clone()),
            Vec::<u16>::new()
        );
        assert_eq!(
            kept("exclude: { kinds: [connect] }", batch),
            Vec::<u16>::new()
        );
    }

    #[test]
    fn events_other_than_connections_always_pass() {
        let batch = vec![
            Event::Telemetry(Default::default()),
            Event::Exec(Default::default()),
            Event::FileOpen(Default::default()),
            Event::TcpCounters(Default::default()),
        ];
        assert_eq!(kept("include: { ports: [9] }", batch), vec![0, 0, 0, 0]);
    }
}
