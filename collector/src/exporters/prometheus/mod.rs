//! The `prometheus` exporter: a scrape endpoint with the aggregated metrics and the
//! agent's own `kotel.*` metrics (live at scrape time), Prometheus-named. Exponential
//! histograms are native histograms for a scraper that asks for protobuf, and classic
//! `le` buckets (the same complete edge set on every series of a family) for the others.

pub mod classic;
pub mod edges;
pub mod exposition;
pub mod protobuf;
pub mod server;
pub mod state;
pub mod text;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::component::kind::{Declared, ExporterType, Kind, Shared};
use crate::component::{BoxFuture, ComponentError, Exporter};
use crate::event::{Batch, Event};
use crate::settings::ConfigError;
use crate::settings::{ComponentId, Signal};
use exposition::Exposition;
use state::ScrapeState;

/// `exporters.prometheus`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusExporterConfig {
    /// Address to listen on; localhost by default (a DaemonSet that Prometheus scrapes
    /// by pod IP sets `0.0.0.0:9464`).
    pub listen: String,
    /// Resource attributes shown on `target_info` besides `service.name`.
    pub resource: std::collections::BTreeMap<String, String>,
}

impl Default for PrometheusExporterConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9464".into(),
            resource: std::collections::BTreeMap::new(),
        }
    }
}

impl PrometheusExporterConfig {
    /// Problems, with paths relative to the exporter.
    pub fn validate(&self) -> Vec<ConfigError> {
        match self.listen.parse::<SocketAddr>() {
            Ok(_) => Vec::new(),
            Err(_) => vec![ConfigError::new(
                "listen",
                format!(
                    "\"{}\" is not an address: use host:port, e.g. 127.0.0.1:9464",
                    self.listen
                ),
            )],
        }
    }
}

/// The exporter.
pub struct PrometheusExporter {
    state: Arc<Mutex<ScrapeState>>,
    server: Option<tokio::task::JoinHandle<()>>,
    address: Option<SocketAddr>,
}

impl PrometheusExporter {
    /// Binds `config.listen` and serves scrapes on the current tokio runtime. A bind
    /// failure is logged and counted as a component error on every export (the agent
    /// keeps running its other exporters).
    pub fn new(component: &str, config: &PrometheusExporterConfig) -> Self {
        let state = Arc::new(Mutex::new(ScrapeState::default()));
        let mut resource = vec![
            ("service_name".to_string(), "kotel".to_string()),
            (
                "service_version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ];
        resource.extend(config.resource.iter().map(|(k, v)| (k.clone(), v.clone())));
        let shown = Arc::clone(&state);
        let render: server::Render = Arc::new(move |format: Exposition| {
            let telemetry = crate::telemetry::snapshot();
            let state = shown.lock().unwrap_or_else(|e| e.into_inner());
            format.render(&state, &telemetry, &resource)
        });
        let mut address = None;
        let server = bind(&config.listen)
            .map_err(|e| tracing::error!(component, listen = %config.listen, error = %e, "prometheus endpoint cannot listen"))
            .ok()
            .and_then(|listener| {
                address = listener.local_addr().ok();
                let runtime = tokio::runtime::Handle::try_current().ok()?;
                tracing::info!(component, listen = %config.listen, "prometheus endpoint at /metrics");
                Some(runtime.spawn(async move {
                    if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                        server::serve(listener, render).await;
                    }
                }))
            });
        Self {
            state,
            server,
            address,
        }
    }

    /// The address it listens on (with the port the system chose for `:0`).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.address
    }
}

fn bind(listen: &str) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

impl Exporter for PrometheusExporter {
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>> {
        Box::pin(async move {
            let now = Instant::now();
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            for event in batch {
                if let Event::Metrics(metrics) = event {
                    state.merge(metrics, now);
                }
            }
            drop(state);
            if self.server.is_none() {
                return Err(ComponentError::Output(
                    "the scrape endpoint is not listening".into(),
                ));
            }
            Ok(())
        })
    }

    /// Stops serving and waits until the listener is closed, so a successor (a reload that
    /// changed another setting) can bind the same address at once.
    fn flush(&mut self, _: tokio::time::Instant) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            if let Some(server) = self.server.take() {
                server.abort();
                let _ = server.await;
            }
            Ok(())
        })
    }
}

impl Drop for PrometheusExporter {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

impl Kind for PrometheusExporterConfig {
    const KIND: &'static str = "prometheus";
}

impl Declared for PrometheusExporterConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Metrics]
    }
    fn validate(&self) -> Vec<ConfigError> {
        PrometheusExporterConfig::validate(self)
    }
}

impl ExporterType for PrometheusExporterConfig {
    fn build(&self, id: &ComponentId, _shared: &Shared) -> Box<dyn Exporter> {
        Box::new(PrometheusExporter::new(&id.to_string(), self))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "exemplar_tests.rs"]
mod exemplar_tests;
