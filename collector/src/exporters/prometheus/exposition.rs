//! Which exposition format a scrape gets, from its `Accept` header, and the body in it.

use crate::event::TelemetrySnapshot;
use crate::exporters::prometheus::state::ScrapeState;
use crate::exporters::prometheus::text::Format;
use crate::exporters::prometheus::{protobuf, text};

/// A scrape's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposition {
    /// The text format or OpenMetrics: histograms as classic `le` buckets.
    Text(Format),
    /// Protobuf: exponential histograms as native histograms too.
    Protobuf,
}

impl Exposition {
    /// The format an `Accept` header asks for: protobuf when it names the
    /// `io.prometheus.client.MetricFamily` protobuf (Prometheus with native histograms on),
    /// else OpenMetrics when it names that, else the text format. Quality factors are not
    /// weighed: Prometheus lists the formats it parses best first.
    pub fn negotiate(accept: &str) -> Self {
        if accept.contains("application/vnd.google.protobuf")
            && accept.contains("proto=io.prometheus.client.MetricFamily")
        {
            Exposition::Protobuf
        } else if accept.contains("application/openmetrics-text") {
            Exposition::Text(Format::OpenMetrics)
        } else {
            Exposition::Text(Format::Text)
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Exposition::Text(format) => format.content_type(),
            Exposition::Protobuf => protobuf::CONTENT_TYPE,
        }
    }

    /// The scrape body.
    pub fn render(
        self,
        state: &ScrapeState,
        telemetry: &TelemetrySnapshot,
        resource: &[(String, String)],
    ) -> Vec<u8> {
        match self {
            Exposition::Text(format) => text::render(state, telemetry, resource, format).into(),
            Exposition::Protobuf => protobuf::render(state, telemetry, resource),
        }
    }
}

#[cfg(test)]
#[path = "exposition_tests.rs"]
mod tests;
