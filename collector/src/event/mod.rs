//! The event model that flows through a pipeline: what sources emit, processors transform
//! and exporters encode. Every type here serializes to one JSON object per event, which is
//! the format of recorded files (`kotel run --record`) and of the `replay` source.

mod exec;
pub mod exponential;
mod file;
mod histogram;
mod metric;
#[cfg(test)]
pub(crate) mod samples;
mod tcp;
mod workload;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use exec::ExecEvent;
pub use file::FileOpenEvent;
pub use histogram::{CgroupHistogram, HistogramMetric};
pub use metric::{
    Attributes, ExponentialPoint, HistogramPoint, Metric, MetricBatch, MetricData, NumberPoint,
    PointHeader, Temporality,
};
pub use tcp::{Direction, TcpConnEvent, TcpConnStats, TcpCounters, TcpEventKind};
pub use workload::{keys, Attribution, Workload};

/// A unit of work between components. Batches keep per-item channel overhead off the
/// hot path; a batch is never empty when sent.
pub type Batch = Vec<Event>;

/// Anything that travels through a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A TCP connection lifecycle event from the `tcp` source.
    Tcp(TcpConnEvent),
    /// Retransmits and resets of one cgroup over an interval, from the `tcp` source.
    TcpCounters(TcpCounters),
    /// A kernel-aggregated histogram of one cgroup over an interval (RTT, connect latency).
    Histogram(CgroupHistogram),
    /// A successful exec, from the `exec` source.
    Exec(ExecEvent),
    /// An open of a watched path, from the `file_open` source.
    FileOpen(FileOpenEvent),
    /// The agent's own counters and gauges, injected by the runtime into every exporter
    /// of a metrics pipeline (and every debug exporter) each telemetry interval.
    Telemetry(TelemetrySnapshot),
    /// Metrics aggregated from events by an `aggregate` processor.
    Metrics(MetricBatch),
}

impl Event {
    /// A short name of the event's type, as in its JSON `type` field.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Tcp(_) => "tcp",
            Event::TcpCounters(_) => "tcp_counters",
            Event::Histogram(_) => "histogram",
            Event::Exec(_) => "exec",
            Event::FileOpen(_) => "file_open",
            Event::Telemetry(_) => "telemetry",
            Event::Metrics(_) => "metrics",
        }
    }

    /// Where in the kernel the event came from: its cgroup id and, for per-process events,
    /// the pid (0 for per-cgroup aggregates). `None` for the agent's own telemetry.
    pub fn origin(&self) -> Option<Origin> {
        let (cgroup_id, pid) = match self {
            Event::Tcp(e) => (e.cgroup_id, e.pid),
            Event::TcpCounters(c) => (c.cgroup_id, 0),
            Event::Histogram(h) => (h.cgroup_id, 0),
            Event::Exec(e) => (e.cgroup_id, e.pid),
            Event::FileOpen(e) => (e.cgroup_id, e.pid),
            Event::Telemetry(_) | Event::Metrics(_) => return None,
        };
        Some(Origin { cgroup_id, pid })
    }

    /// The workload the event is attributed to, if a processor attributed it.
    pub fn workload(&self) -> Option<&Arc<Workload>> {
        self.attribution().and_then(|slot| slot.as_ref())
    }

    /// Attributes the event to `workload`; a no-op for the agent's own telemetry.
    pub fn set_workload(&mut self, workload: Arc<Workload>) {
        if let Some(slot) = self.attribution_slot_mut() {
            *slot = Some(workload);
        }
    }

    /// The event's attribution slot: `Some` for events of a workload (attributed or not
    /// yet), `None` for those that never are (the agent's telemetry, aggregated metrics).
    pub fn attribution(&self) -> Option<&Attribution> {
        match self {
            Event::Tcp(e) => Some(&e.workload),
            Event::TcpCounters(c) => Some(&c.workload),
            Event::Histogram(h) => Some(&h.workload),
            Event::Exec(e) => Some(&e.workload),
            Event::FileOpen(e) => Some(&e.workload),
            Event::Telemetry(_) | Event::Metrics(_) => None,
        }
    }

    fn attribution_slot_mut(&mut self) -> Option<&mut Attribution> {
        match self {
            Event::Tcp(e) => Some(&mut e.workload),
            Event::TcpCounters(c) => Some(&mut c.workload),
            Event::Histogram(h) => Some(&mut h.workload),
            Event::Exec(e) => Some(&mut e.workload),
            Event::FileOpen(e) => Some(&mut e.workload),
            Event::Telemetry(_) | Event::Metrics(_) => None,
        }
    }
}

/// The kernel identity of an event's origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The cgroup v2 id (the inode of the process's cgroup directory).
    pub cgroup_id: u64,
    /// The process id in the root pid namespace; 0 for per-cgroup aggregates.
    pub pid: u32,
}

/// A point-in-time copy of the agent's own metrics (`kotel.*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TelemetrySnapshot {
    /// Wall-clock time the counters count from (the agent's start), nanoseconds since the
    /// Unix epoch; 0 in snapshots recorded before it was kept.
    #[serde(default)]
    pub start_time_unix_nano: u64,
    /// Wall-clock time of the snapshot, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Monotonic counters, sorted by name then labels.
    pub counters: Vec<TelemetryPoint>,
    /// Gauges (e.g. channel depth), sorted by name then labels.
    pub gauges: Vec<TelemetryPoint>,
}

/// One self-telemetry series and its value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TelemetryPoint {
    /// Metric name, `kotel.*`.
    pub name: String,
    /// Label pairs, sorted by key.
    pub labels: Vec<(String, String)>,
    /// Current value (counters: cumulative since start).
    pub value: f64,
}

/// Wall-clock now in nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
