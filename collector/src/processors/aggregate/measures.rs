//! Which events feed which instruments: one table per event kind, one row per
//! (instrument, attribute set, value). Adding a metric built from an event is a row here
//! (and its entry in [`instruments`](super::instruments)), not a code path.
//!
//! Contract: for each event, every row of its kind's table whose `value` gives a sample
//! is applied, in table order, to the series of the event's workload (and peer, where
//! `aggregate` keeps peers) with the row's extra attribute.

use crate::event::{Direction, HistogramMetric, TcpConnEvent, TcpCounters, TcpEventKind};
use crate::processors::aggregate::attribute_sets::Extra;
use crate::processors::aggregate::instruments::Instrument;

/// What one event adds to one series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample {
    /// Adds to a sum (negative for an up-down counter going down).
    Add(i64),
    /// Observes a value into a histogram.
    Observe(f64),
}

/// One row: events of type `E` feed `instrument` on the series with the extra attribute
/// `attributes` gives, by what `value` gives (`None`: this event does not feed it).
pub struct Measure<E> {
    /// The metric.
    pub instrument: Instrument,
    /// The attribute the series adds to the workload's (direction, io direction).
    pub attributes: fn(&E) -> Extra,
    /// The sample, if this event feeds the metric.
    pub value: fn(&E) -> Option<Sample>,
}

fn opened(e: &TcpConnEvent) -> bool {
    matches!(e.kind, TcpEventKind::Connect | TcpEventKind::Accept)
}

fn closed(e: &TcpConnEvent) -> bool {
    e.kind == TcpEventKind::Close
}

fn directed(e: &TcpConnEvent) -> Extra {
    Extra::Direction(e.direction)
}

/// `tcp` connection events.
pub const CONNECTION: &[Measure<TcpConnEvent>] = &[
    Measure {
        instrument: Instrument::Opened,
        attributes: directed,
        value: |e| opened(e).then_some(Sample::Add(1)),
    },
    Measure {
        instrument: Instrument::Open,
        attributes: directed,
        value: |e| opened(e).then_some(Sample::Add(1)),
    },
    Measure {
        instrument: Instrument::Failed,
        attributes: |_| Extra::Plain,
        value: |e| (e.kind == TcpEventKind::ConnectFailed).then_some(Sample::Add(1)),
    },
    Measure {
        instrument: Instrument::Closed,
        attributes: directed,
        value: |e| closed(e).then_some(Sample::Add(1)),
    },
    Measure {
        instrument: Instrument::Open,
        attributes: directed,
        value: |e| closed(e).then_some(Sample::Add(-1)),
    },
    Measure {
        instrument: Instrument::Duration,
        attributes: directed,
        value: |e| {
            let ns = e.duration_ns.filter(|_| closed(e))?;
            Some(Sample::Observe(ns as f64 / 1e9))
        },
    },
    Measure {
        instrument: Instrument::Io,
        attributes: |_| Extra::Transmit,
        value: |e| {
            let stats = e.stats.as_ref().filter(|_| closed(e))?;
            Some(Sample::Add(stats.bytes_sent as i64))
        },
    },
    Measure {
        instrument: Instrument::Io,
        attributes: |_| Extra::Receive,
        value: |e| {
            let stats = e.stats.as_ref().filter(|_| closed(e))?;
            Some(Sample::Add(stats.bytes_received as i64))
        },
    },
];

/// Per-cgroup retransmit and reset counts of one interval.
pub const COUNTERS: &[Measure<TcpCounters>] = &[
    Measure {
        instrument: Instrument::Retransmits,
        attributes: |_| Extra::Plain,
        value: |c| Some(Sample::Add(c.retransmits as i64)),
    },
    Measure {
        instrument: Instrument::Resets,
        attributes: |_| Extra::Sent,
        value: |c| Some(Sample::Add(c.resets_sent as i64)),
    },
    Measure {
        instrument: Instrument::Resets,
        attributes: |_| Extra::Received,
        value: |c| Some(Sample::Add(c.resets_received as i64)),
    },
];

/// The instrument each kernel histogram feeds (merged bucket by bucket, never
/// re-observed).
pub const KERNEL_HISTOGRAMS: &[(HistogramMetric, Instrument)] = &[
    (HistogramMetric::TcpRtt, Instrument::Rtt),
    (
        HistogramMetric::TcpConnectLatency,
        Instrument::ConnectLatency,
    ),
];

/// The instrument kernel histogram `metric` feeds.
pub fn kernel_histogram(metric: HistogramMetric) -> Option<Instrument> {
    KERNEL_HISTOGRAMS
        .iter()
        .find(|(m, _)| *m == metric)
        .map(|(_, i)| *i)
}

/// The server port of a connection: the local port of an accepted one, else the remote.
pub fn server_port(e: &TcpConnEvent) -> u16 {
    match e.direction {
        Direction::Inbound => e.local_port,
        _ => e.remote_port,
    }
}

#[cfg(test)]
#[path = "measures_tests.rs"]
mod tests;
