//! The `k8s_cri` processor: attributes every event to its container, pod and namespace
//! through the node's container runtime (CRI v1 over gRPC on a unix socket).
//!
//! Two halves, one folder each: the CRI task (`cri/`) finds the runtime, keeps a catalog
//! of containers (cgroup id, attributes) current and publishes snapshots; the event path
//! (`events/`) reads the newest snapshot per batch and never waits on the runtime. What
//! they share sits here: the `service.rs` that binds them (one per processor id and
//! config), the snapshot they exchange (`catalog.rs`), the one message the event path
//! sends (`request.rs`), container cgroup paths (`cgroup.rs`), the cgroup birth watch
//! (`births.rs`) and their metrics.

pub(crate) mod births;
pub(crate) mod catalog;
pub(crate) mod cgroup;
mod checkup;
mod config;
mod cri;
mod events;
pub(crate) mod metrics;
pub(crate) mod request;
mod service;

pub use config::K8sCriConfig;
pub use cri::discovery;
pub use events::processor::K8sCriProcessor;
pub use service::CriService;

use crate::component::checkup::Report;
use crate::component::kind::{Declared, Kind, ProcessorType, Shared};
use crate::component::Processor;
use crate::settings::{ComponentId, ConfigError, Signal};

impl Kind for K8sCriConfig {
    const KIND: &'static str = "k8s_cri";
}

impl Declared for K8sCriConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Metrics, Signal::Logs, Signal::Traces]
    }
    fn validate(&self) -> Vec<ConfigError> {
        K8sCriConfig::validate(self)
    }
    fn checkup(&self, id: &ComponentId, report: &mut Report, _: &Shared) {
        checkup::check(report, &id.to_string(), self);
    }
}

impl ProcessorType for K8sCriConfig {
    fn build(&self, id: &ComponentId, shared: &Shared) -> Box<dyn Processor> {
        let service = shared.get::<service::LiveServices>().get_or_start(id, self);
        Box::new(K8sCriProcessor::new(service))
    }
}
