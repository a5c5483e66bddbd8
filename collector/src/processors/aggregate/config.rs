//! Configuration of the `aggregate` processor.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::{keys, Temporality};
use crate::processors::aggregate::instruments::Instrument;
use crate::settings::duration;
use crate::settings::ConfigError;

/// `processors.aggregate`: turns events into metrics per attribute set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AggregateConfig {
    /// How often metrics are collected and sent on.
    #[serde(with = "duration")]
    pub interval: Duration,
    /// `cumulative` (each point covers the series' life) or `delta` (each point covers
    /// one interval).
    pub temporality: Temporality,
    /// Which workload attributes (set by `k8s_cri`) a series keeps; the rest are
    /// aggregated away.
    pub attributes: Vec<String>,
    /// Peer attributes on connection metrics: `none`, or `address` (the remote address
    /// and the server port). Raises cardinality: mind `cardinality_limit`.
    pub peer: Peer,
    /// Most series per metric; beyond it data goes to one series marked
    /// `otel.metric.overflow=true` (counted in `kotel.aggregate.overflow`).
    pub cardinality_limit: usize,
    /// A series that received nothing for this long is forgotten (a cumulative series
    /// that comes back starts again with a new start time).
    #[serde(with = "duration")]
    pub series_ttl: Duration,
    /// Histogram settings by metric name: `{ buckets: [..] }` makes an explicit-bucket
    /// histogram with those upper bounds (in the metric's unit). The kernel's exponential
    /// histograms pass through unchanged unless buckets are given here.
    pub histograms: BTreeMap<String, HistogramConfig>,
    /// Keep, per bucket of the HTTP request-duration histograms, the last request's
    /// trace and span ids (exemplars, over OTLP and on the OpenMetrics scrape), so a
    /// backend links a latency bucket to a trace.
    pub exemplars: bool,
}

/// Which peer attributes connection metrics carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    /// None.
    #[default]
    None,
    /// `network.peer.address` and `server.port`.
    Address,
}

/// One histogram's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramConfig {
    /// Upper bounds of the explicit buckets, ascending.
    pub buckets: Vec<f64>,
}

/// Bucket bounds for durations in seconds when none are configured (Prometheus'
/// defaults).
pub const DEFAULT_SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bucket bounds of the HTTP request-duration histograms when none are configured (the
/// HTTP semantic conventions' advice).
pub const HTTP_SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

impl Default for AggregateConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            temporality: Temporality::Cumulative,
            attributes: [keys::NAMESPACE, keys::POD_NAME, keys::CONTAINER_NAME]
                .map(String::from)
                .to_vec(),
            peer: Peer::None,
            cardinality_limit: 2000,
            series_ttl: Duration::from_secs(600),
            histograms: BTreeMap::new(),
            exemplars: true,
        }
    }
}

impl AggregateConfig {
    /// Problems, with paths relative to the processor.
    pub fn validate(&self) -> Vec<ConfigError> {
        let mut problems = Vec::new();
        if self.interval < Duration::from_secs(1) || self.interval > Duration::from_secs(3600) {
            problems.push(ConfigError::new("interval", "must be between 1s and 1h"));
        }
        if self.cardinality_limit < 2 {
            problems.push(ConfigError::new("cardinality_limit", "must be at least 2"));
        }
        if self.series_ttl < self.interval {
            problems.push(ConfigError::new(
                "series_ttl",
                "must be at least the interval",
            ));
        }
        for (i, key) in self.attributes.iter().enumerate() {
            if self.attributes[..i].contains(key) {
                problems.push(ConfigError::new(
                    format!("attributes[{i}]"),
                    format!("\"{key}\" is listed twice"),
                ));
            }
        }
        for (name, histogram) in &self.histograms {
            let path = format!("histograms::{name}");
            match Instrument::by_name(name) {
                Some(i) if i.is_histogram() => {}
                _ => problems.push(ConfigError::new(
                    path.clone(),
                    format!(
                        "not a histogram metric; histograms are {}",
                        Instrument::histogram_names().join(", ")
                    ),
                )),
            }
            let b = &histogram.buckets;
            if b.is_empty()
                || b.iter().any(|x| !x.is_finite())
                || b.windows(2).any(|w| w[0] >= w[1])
            {
                problems.push(ConfigError::new(
                    format!("{path}::buckets"),
                    "must be finite numbers in strictly ascending order",
                ));
            }
        }
        problems
    }
}
