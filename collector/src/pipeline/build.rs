//! Turns component configs into running components. Building touches nothing outside
//! the process: sources attach to the kernel or open files only when they run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::component::{Exporter, Processor, Source};
use crate::config::{ComponentId, ExporterConfig, ProcessorConfig, SourceConfig};
use crate::exporters::debug::DebugExporter;
use crate::exporters::otlp::OtlpExporter;
use crate::exporters::prometheus::PrometheusExporter;
use crate::processors::aggregate::AggregateProcessor;
use crate::processors::filter::FilterProcessor;
use crate::processors::k8s_cri::{CriService, K8sCriConfig, K8sCriProcessor};
use crate::sources::exec::ExecSource;
use crate::sources::file_open::FileOpenSource;
use crate::sources::replay::ReplaySource;
use crate::sources::tcp::TcpSource;

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

/// The real components, as configured. Instances of one `k8s_cri` processor id and
/// config (in several pipelines, or across a reload that keeps its config) share one CRI
/// connection and cache for as long as any of them lives.
#[derive(Default)]
pub struct Components {
    cri_services: Mutex<HashMap<ComponentId, (K8sCriConfig, Weak<CriService>)>>,
}

impl Components {
    /// The live service of `k8s_cri` processor `id` with `config`, or a new one.
    fn cri_service(&self, id: &ComponentId, config: &K8sCriConfig) -> Arc<CriService> {
        let mut services = self.cri_services.lock().unwrap_or_else(|e| e.into_inner());
        let live = services
            .get(id)
            .filter(|(running, _)| running == config)
            .and_then(|(_, service)| service.upgrade());
        if let Some(service) = live {
            return service;
        }
        let service = CriService::start(&id.to_string(), config);
        services.insert(id.clone(), (config.clone(), Arc::downgrade(&service)));
        service
    }
}

impl ComponentFactory for Components {
    fn source(&self, id: &ComponentId, config: &SourceConfig) -> Box<dyn Source> {
        match config {
            SourceConfig::Tcp(c) => Box::new(TcpSource::new(id, c)),
            SourceConfig::Exec(c) => Box::new(ExecSource::new(id, c)),
            SourceConfig::FileOpen(c) => Box::new(FileOpenSource::new(id, c)),
            SourceConfig::Replay(c) => Box::new(ReplaySource::new(id, c)),
        }
    }

    fn processor(&self, id: &ComponentId, config: &ProcessorConfig) -> Box<dyn Processor> {
        match config {
            ProcessorConfig::Filter(c) => Box::new(FilterProcessor::new(c)),
            ProcessorConfig::K8sCri(c) => Box::new(K8sCriProcessor::new(self.cri_service(id, c))),
            ProcessorConfig::Aggregate(c) => Box::new(AggregateProcessor::new(&id.to_string(), c)),
        }
    }

    fn exporter(&self, id: &ComponentId, config: &ExporterConfig) -> Box<dyn Exporter> {
        match config {
            ExporterConfig::Debug(c) => Box::new(DebugExporter::stdout(c)),
            ExporterConfig::Otlp(c) => Box::new(OtlpExporter::new(&id.to_string(), c)),
            ExporterConfig::Prometheus(c) => Box::new(PrometheusExporter::new(&id.to_string(), c)),
        }
    }
}
