//! The metrics `aggregate` produces: names, units, kinds and descriptions, in one table
//! (docs/metrics.md lists the same; a test compares them).

/// What kind of OTLP data an instrument produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A monotonic sum.
    Counter,
    /// A non-monotonic sum.
    UpDownCounter,
    /// An explicit-bucket histogram of values the agent observes one by one.
    Histogram,
    /// A histogram the kernel aggregates (exponential, passed through unless buckets
    /// are configured).
    KernelHistogram,
}

/// One metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Instrument {
    /// Connections established (`direction`: outbound = connect, inbound = accept).
    Opened,
    /// Connects that failed.
    Failed,
    /// Connections closed.
    Closed,
    /// Connections open now (opened minus closed, since the agent started).
    Open,
    /// Lifetime of closed connections.
    Duration,
    /// Bytes of closed connections (`network.io.direction`).
    Io,
    /// Connect latency (kernel histogram).
    ConnectLatency,
    /// Smoothed round-trip time samples (kernel histogram).
    Rtt,
    /// Retransmitted segments.
    Retransmits,
    /// Resets sent and received (`direction`).
    Resets,
    /// Duration of HTTP requests a local process answered.
    HttpServerDuration,
    /// Duration of HTTP requests a local process made.
    HttpClientDuration,
}

impl Instrument {
    /// Every instrument, in output order.
    pub const ALL: [Instrument; 12] = [
        Instrument::Opened,
        Instrument::Failed,
        Instrument::Closed,
        Instrument::Open,
        Instrument::Duration,
        Instrument::Io,
        Instrument::ConnectLatency,
        Instrument::Rtt,
        Instrument::Retransmits,
        Instrument::Resets,
        Instrument::HttpServerDuration,
        Instrument::HttpClientDuration,
    ];

    /// `(name, unit, kind, description)`.
    pub fn spec(self) -> (&'static str, &'static str, Kind, &'static str) {
        match self {
            Instrument::Opened => ("tcp.connection.opened", "{connection}", Kind::Counter, "TCP connections established, by direction (outbound: connect, inbound: accept)"),
            Instrument::Failed => ("tcp.connection.failed", "{connection}", Kind::Counter, "TCP connects that failed"),
            Instrument::Closed => ("tcp.connection.closed", "{connection}", Kind::Counter, "TCP connections closed, by direction"),
            Instrument::Open => ("tcp.connection.open", "{connection}", Kind::UpDownCounter, "TCP connections open now (established minus closed since the agent started)"),
            Instrument::Duration => ("tcp.connection.duration", "s", Kind::Histogram, "Lifetime of closed TCP connections"),
            Instrument::Io => ("tcp.connection.io", "By", Kind::Counter, "Bytes sent (transmit) and received (receive) by TCP connections, counted when they close"),
            Instrument::ConnectLatency => ("tcp.connect.duration", "s", Kind::KernelHistogram, "Time from SYN sent to established, measured in the kernel"),
            Instrument::Rtt => ("tcp.rtt", "s", Kind::KernelHistogram, "Smoothed round-trip time samples, measured in the kernel"),
            Instrument::Retransmits => ("tcp.retransmits", "{segment}", Kind::Counter, "TCP segments retransmitted"),
            Instrument::Resets => ("tcp.resets", "{segment}", Kind::Counter, "TCP resets, by direction (sent, received)"),
            Instrument::HttpServerDuration => ("http.server.request.duration", "s", Kind::Histogram, "Duration of HTTP server requests, from the kernel's syscall times"),
            Instrument::HttpClientDuration => ("http.client.request.duration", "s", Kind::Histogram, "Duration of HTTP client requests, from the kernel's syscall times"),
        }
    }

    /// The metric name.
    pub fn name(self) -> &'static str {
        self.spec().0
    }

    /// The instrument with metric name `name`.
    pub fn by_name(name: &str) -> Option<Instrument> {
        Self::ALL.into_iter().find(|i| i.name() == name)
    }

    /// True for histograms (configurable buckets).
    pub fn is_histogram(self) -> bool {
        matches!(self.spec().2, Kind::Histogram | Kind::KernelHistogram)
    }

    /// Names of the histogram metrics.
    pub fn histogram_names() -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|i| i.is_histogram())
            .map(Instrument::name)
            .collect()
    }
}
