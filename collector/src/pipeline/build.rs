//! Turns component configs into running components. Building touches nothing outside
//! the process: sources attach to the kernel or open files only when they run.

use crate::component::kind::Shared;
use crate::component::{Exporter, Processor, Source};
use crate::config::{ComponentId, ExporterConfig, ProcessorConfig, SourceConfig};

/// Makes components from their configs. The runtime calls `source` again for every
/// restart, `processor` once per pipeline that lists it and `exporter` once per id.
/// Tests substitute components (a slow exporter, a failing source) through this trait.
pub trait ComponentFactory: Send + Sync + 'static {
    /// A fresh instance of the source `id`.
    fn source(&self, id: &ComponentId, config: &SourceConfig) -> Box<dyn Source>;
    /// A fresh instance of the processor `id`.
    fn processor(&self, id: &ComponentId, config: &ProcessorConfig) -> Box<dyn Processor>;
    /// The exporter `id`.
    fn exporter(&self, id: &ComponentId, config: &ExporterConfig) -> Box<dyn Exporter>;
}

/// The real components, as configured, each built by its own type
/// ([`crate::component::kind`]). What instances share across builds (e.g. one CRI
/// connection per `k8s_cri` id and config) lives in [`Shared`] for as long as this does.
#[derive(Default)]
pub struct Components {
    shared: Shared,
}

impl ComponentFactory for Components {
    fn source(&self, id: &ComponentId, config: &SourceConfig) -> Box<dyn Source> {
        config.build(id, &self.shared)
    }

    fn processor(&self, id: &ComponentId, config: &ProcessorConfig) -> Box<dyn Processor> {
        config.build(id, &self.shared)
    }

    fn exporter(&self, id: &ComponentId, config: &ExporterConfig) -> Box<dyn Exporter> {
        config.build(id, &self.shared)
    }
}
