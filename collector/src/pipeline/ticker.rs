//! Self-telemetry delivery: every `telemetry.interval` a snapshot of the agent's own
//! metrics goes to every exporter of a metrics pipeline (the OTLP exporter sends it as
//! OTLP metrics) and every debug exporter (which prints a summary), and the runtime sends one last snapshot after the
//! sources and pipelines have drained (so it includes everything they counted).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::component::output::{fan_out, ComponentCounters, Edge};
use crate::component::Shutdown;
use crate::event::{Batch, Event};
use crate::telemetry::{self, names};

/// A channel whose depth the ticker reports (`kotel.channel.depth{channel}`).
pub struct DepthProbe {
    /// Name of the consumer (`pipelines::logs`, `debug`, `record`).
    pub channel: String,
    /// Does not keep the channel open.
    pub tx: mpsc::WeakSender<Batch>,
}

/// Sends snapshots to `exporters`; cheap to share between the periodic ticks and the
/// final snapshot.
pub struct Ticker {
    exporters: Vec<Edge>,
    probes: Vec<DepthProbe>,
    counters: ComponentCounters,
}

impl Ticker {
    /// A ticker for these exporter edges and channel probes.
    pub fn new(exporters: Vec<Edge>, probes: Vec<DepthProbe>) -> Arc<Self> {
        Arc::new(Self {
            exporters,
            probes,
            counters: ComponentCounters::new("telemetry", "telemetry"),
        })
    }

    /// Records channel depths, then hands a snapshot to every exporter it was given.
    pub async fn send_snapshot(&self) {
        for probe in &self.probes {
            if let Some(tx) = probe.tx.upgrade() {
                let depth = tx.max_capacity() - tx.capacity();
                metrics::gauge!(names::CHANNEL_DEPTH, "channel" => probe.channel.clone())
                    .set(depth as f64);
                metrics::gauge!(names::CHANNEL_CAPACITY, "channel" => probe.channel.clone())
                    .set(tx.max_capacity() as f64);
            }
        }
        let batch = vec![Event::Telemetry(telemetry::snapshot())];
        fan_out(&self.exporters, batch, &self.counters).await;
    }

    /// Sends a snapshot every `interval` until shutdown (nothing when it is zero).
    pub async fn run(self: Arc<Self>, interval: Duration, mut shutdown: Shutdown) {
        if interval.is_zero() {
            return;
        }
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            tokio::select! {
                _ = tick.tick() => self.send_snapshot().await,
                _ = shutdown.requested() => return,
            }
        }
    }
}
