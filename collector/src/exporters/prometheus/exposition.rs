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
mod tests {
    use super::*;

    #[test]
    fn the_accept_header_picks_the_format() {
        let prometheus_native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(
            Exposition::negotiate(prometheus_native),
            Exposition::Protobuf
        );
        let prometheus_classic = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(
            Exposition::negotiate(prometheus_classic),
            Exposition::Text(Format::OpenMetrics)
        );
        assert_eq!(Exposition::negotiate(""), Exposition::Text(Format::Text));
        assert_eq!(
            Exposition::negotiate("application/vnd.google.protobuf"),
            Exposition::Text(Format::Text),
            "another protobuf message is not ours"
        );
    }
}
