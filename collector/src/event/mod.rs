//! The event model that flows through a pipeline: what sources emit, processors transform
//! and exporters encode. Every type here serializes to one JSON object per event, which is
//! the format of recorded files (`kotel run --record`) and of the `replay` source.

mod exec;
pub mod exponential;
mod file;
mod histogram;
mod http;
mod metric;
#[cfg(test)]
pub(crate) mod samples;
mod tcp;
pub mod trace_ids;
mod workload;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use exec::ExecEvent;
pub use file::FileOpenEvent;
pub use histogram::{CgroupHistogram, HistogramMetric};
pub use http::{
    ErrorType, HttpEvent, HttpFailure, HttpMethod, HttpSide, HttpVersion, HTTP_METHODS,
};
pub use metric::{
    Attributes, Exemplar, ExponentialPoint, HistogramPoint, Metric, MetricBatch, MetricData,
    NumberPoint, PointHeader, Temporality,
};
pub use tcp::{Direction, TcpConnEvent, TcpConnStats, TcpCounters, TcpEventKind};
pub use trace_ids::{SpanId, TraceId};
pub use workload::{keys, Attribution, Workload};

/// A unit of work between components. Batches keep per-item channel overhead off the
/// hot path; a batch is never empty when sent.
pub type Batch = Vec<Event>;

/// Declares [`Event`] from one list of kinds: the kinds that happened in a workload
/// (their payload implements [`WorkloadEvent`]) and the others. `name`, `origin` and the
/// attribution accessors dispatch from this list; adding an event kind is its payload
/// type in this folder plus one line here.
macro_rules! events {
    (
        workload { $( $(#[$wmeta:meta])* $w:ident($wty:ty) = $wname:literal, )+ }
        other { $( $(#[$ometa:meta])* $o:ident($oty:ty) = $oname:literal, )+ }
    ) => {
        /// Anything that travels through a pipeline.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Event {
            $( $(#[$wmeta])* $w($wty), )+
            $( $(#[$ometa])* $o($oty), )+
        }

        impl Event {
            /// A short name of the event's type, as in its JSON `type` field.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Event::$w(_) => $wname, )+
                    $( Event::$o(_) => $oname, )+
                }
            }

            /// The payload of an event that happened in a workload.
            fn of_workload(&self) -> Option<&dyn WorkloadEvent> {
                match self {
                    $( Event::$w(e) => Some(e), )+
                    $( Event::$o(_) => None, )+
                }
            }

            fn of_workload_mut(&mut self) -> Option<&mut dyn WorkloadEvent> {
                match self {
                    $( Event::$w(e) => Some(e), )+
                    $( Event::$o(_) => None, )+
                }
            }
        }
    };
}

events! {
    workload {
        /// A TCP connection lifecycle event from the `tcp` source.
        Tcp(TcpConnEvent) = "tcp",
        /// Retransmits and resets of one cgroup over an interval, from the `tcp` source.
        TcpCounters(TcpCounters) = "tcp_counters",
        /// A kernel-aggregated histogram of one cgroup over an interval (RTT, connect
        /// latency).
        Histogram(CgroupHistogram) = "histogram",
        /// A successful exec, from the `exec` source.
        Exec(ExecEvent) = "exec",
        /// An open of a watched path, from the `file_open` source.
        FileOpen(FileOpenEvent) = "file_open",
        /// An HTTP request and its response, from the `l7` source.
        Http(HttpEvent) = "http",
    }
    other {
        /// The agent's own counters and gauges, injected by the runtime into every
        /// exporter of a metrics pipeline (and every debug exporter) each telemetry
        /// interval.
        Telemetry(TelemetrySnapshot) = "telemetry",
        /// Metrics aggregated from events by an `aggregate` processor.
        Metrics(MetricBatch) = "metrics",
    }
}

/// An event that happened in a workload: the kernel says where (cgroup, and pid for
/// per-process events), and a processor may attribute it to its pod and container.
pub trait WorkloadEvent {
    /// Where in the kernel it came from.
    fn origin(&self) -> Origin;
    /// Its attribution slot.
    fn attribution(&self) -> &Attribution;
    /// Its attribution slot, to fill.
    fn attribution_mut(&mut self) -> &mut Attribution;
}

/// Implements [`WorkloadEvent`] for payloads with `cgroup_id` and `workload` fields, and
/// `pid` when the event is per process.
macro_rules! workload_event {
    ($ty:ty, pid) => {
        workload_event!($ty, |e: &$ty| e.pid);
    };
    ($ty:ty) => {
        workload_event!($ty, |_: &$ty| 0);
    };
    ($ty:ty, $pid:expr) => {
        impl WorkloadEvent for $ty {
            fn origin(&self) -> Origin {
                Origin {
                    cgroup_id: self.cgroup_id,
                    pid: ($pid)(self),
                }
            }
            fn attribution(&self) -> &Attribution {
                &self.workload
            }
            fn attribution_mut(&mut self) -> &mut Attribution {
                &mut self.workload
            }
        }
    };
}

workload_event!(TcpConnEvent, pid);
workload_event!(TcpCounters);
workload_event!(CgroupHistogram);
workload_event!(ExecEvent, pid);
workload_event!(FileOpenEvent, pid);
workload_event!(HttpEvent, pid);

impl Event {
    /// Where in the kernel the event came from: its cgroup id and, for per-process events,
    /// the pid (0 for per-cgroup aggregates). `None` for the agent's own telemetry.
    pub fn origin(&self) -> Option<Origin> {
        self.of_workload().map(WorkloadEvent::origin)
    }

    /// The workload the event is attributed to, if a processor attributed it.
    pub fn workload(&self) -> Option<&Arc<Workload>> {
        self.attribution().and_then(|slot| slot.as_ref())
    }

    /// Attributes the event to `workload`; a no-op for the agent's own telemetry.
    pub fn set_workload(&mut self, workload: Arc<Workload>) {
        if let Some(e) = self.of_workload_mut() {
            *e.attribution_mut() = Some(workload);
        }
    }

    /// The event's attribution slot: `Some` for events of a workload (attributed or not
    /// yet), `None` for those that never are (the agent's telemetry, aggregated metrics).
    pub fn attribution(&self) -> Option<&Attribution> {
        self.of_workload().map(WorkloadEvent::attribution)
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

#[cfg(test)]
mod tests;
