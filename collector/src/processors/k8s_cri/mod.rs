//! The `k8s_cri` processor: attributes every event to its container, pod and namespace
//! through the node's container runtime (CRI v1 over gRPC on a unix socket).
//!
//! Two halves: the CRI task ([`watcher`]) finds the runtime, keeps a catalog of
//! containers (cgroup id, attributes) current and publishes snapshots; the event path
//! ([`processor`]) reads the newest snapshot per batch and never waits on the runtime.

pub mod births;
pub mod catalog;
pub mod cgroup;
mod checkup;
pub mod client;
pub mod config;
pub mod describe;
pub mod discovery;
pub mod hold;
pub mod metrics;
pub mod processor;
pub mod resolver;
pub mod service;
pub mod watcher;

pub use config::K8sCriConfig;
pub use processor::K8sCriProcessor;
pub use service::CriService;

use crate::component::checkup::Report;
use crate::component::kind::{Declared, Kind, ProcessorType, Shared};
use crate::component::Processor;
use crate::config::{ComponentId, ConfigError, Signal};

impl Kind for K8sCriConfig {
    const KIND: &'static str = "k8s_cri";
}

impl Declared for K8sCriConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Metrics, Signal::Logs]
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
