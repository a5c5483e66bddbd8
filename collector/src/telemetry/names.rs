//! Every self-telemetry metric name and label key the agent records.

/// Counter: events a component received (sources: produced, once per event; processors,
/// pipelines, exporters: taken in). Labels: `component_id`, `component_kind`.
pub const EVENTS_RECEIVED: &str = "kotel.component.events.received";
/// Counter: events a component handed on (sources and pipelines: per downstream edge
/// delivered; processors: kept; exporters: exported).
pub const EVENTS_SENT: &str = "kotel.component.events.sent";
/// Counter: events a component lost. Labels add `reason` (`queue_full`, `filtered`,
/// `export_failed`, `panic`).
pub const EVENTS_DROPPED: &str = "kotel.component.events.dropped";
/// Counter: runtime failures of a component (logged with the id).
pub const COMPONENT_ERRORS: &str = "kotel.component.errors";
/// Counter: restarts of a failed source.
pub const SOURCE_RESTARTS: &str = "kotel.component.restarts";
/// Gauge: batches waiting in a channel. Labels: `channel` (the consumer's id).
pub const CHANNEL_DEPTH: &str = "kotel.channel.depth";
/// Gauge: capacity (batches) of a channel. Labels: `channel`.
pub const CHANNEL_CAPACITY: &str = "kotel.channel.capacity";
/// Counter: records a kernel program could not put into its ring buffer. Labels: `source`.
pub const RINGBUF_LOST: &str = "kotel.ebpf.ringbuf.lost";
/// Counter: the `tcp` kernel program's own stats. Labels: `source` (component id),
/// `stat` (a `TcpStat` name: `emitted`, `ringbuf_full`, `owner_map_full`, `read_error`,
/// `owner_unknown`, `wakeup`, `filtered`).
pub const TCP_KERNEL_EVENTS: &str = "kotel.source.tcp.kernel_events";
/// Counter: source records that could not be decoded. Labels: `source`, `reason`.
pub const DECODE_ERRORS: &str = "kotel.source.decode_errors";

/// Label: the component id (`type[/name]`).
pub const COMPONENT_ID: &str = "component_id";
/// Label: `source`, `processor` or `exporter`.
pub const COMPONENT_KIND: &str = "component_kind";
/// Label: why something was dropped or failed.
pub const REASON: &str = "reason";
