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
/// Counter: kernel programs the verifier refused. Labels: `component_id`, `program`. The
/// source stops (not retried: the verdict does not change by waiting), except where a
/// fallback program took over (the `exec` source's classic tracepoint).
pub const KERNEL_REJECTIONS: &str = "kotel.source.kernel.rejections";
/// Counter: source records that could not be decoded. Labels: `source`, `reason`.
pub const DECODE_ERRORS: &str = "kotel.source.decode_errors";

/// Counter: events the `k8s_cri` processor looked up. Labels: `component_id`, `result`
/// (`hit`: a container; `host`: a host process; `pending`: a container not described
/// yet, held back; `miss`: nothing known, sent with node attributes only; `no_cgroup`:
/// the source knew no cgroup, sent with node attributes only).
pub const K8S_CRI_LOOKUPS: &str = "kotel.k8s_cri.lookups";
/// Counter: held-back events as they leave the hold. Labels: `component_id`, `outcome`
/// (`attributed`, `expired`: sent unattributed after `hold`, `overflow`: the hold was
/// full, `shutdown`: released unattributed at shutdown).
pub const K8S_CRI_HOLD: &str = "kotel.k8s_cri.hold";
/// Counter: CRI calls. Labels: `component_id`, `rpc`, `outcome` (`ok`, `error`,
/// `timeout`, `unimplemented`).
pub const K8S_CRI_CALLS: &str = "kotel.k8s_cri.calls";
/// Counter: total microseconds spent in CRI calls (divide by `kotel.k8s_cri.calls` for
/// the mean). Labels: `component_id`, `rpc`.
pub const K8S_CRI_CALL_DURATION_US: &str = "kotel.k8s_cri.call.duration_us";
/// Gauge: containers in the cache (running and within their exit grace period).
/// Labels: `component_id`.
pub const K8S_CRI_CACHE_CONTAINERS: &str = "kotel.k8s_cri.cache.containers";
/// Counter: containers evicted from a full cache before their grace period ended.
/// Labels: `component_id`.
pub const K8S_CRI_CACHE_EVICTIONS: &str = "kotel.k8s_cri.cache.evictions";
/// Counter: runtime answers kotel refused to use. Labels: `component_id`, `reason`
/// (`container_id`, `info`, `cgroups_path`, `cgroup_conflict`, `pod`).
pub const K8S_CRI_REJECTED: &str = "kotel.k8s_cri.rejected";
/// Gauge: 1 while connected to a runtime, else 0. Labels: `component_id`.
pub const K8S_CRI_CONNECTED: &str = "kotel.k8s_cri.connected";
/// Counter: connection attempts. Labels: `component_id`, `outcome` (`ok`, `no_socket`,
/// `error`).
pub const K8S_CRI_CONNECTS: &str = "kotel.k8s_cri.connects";
/// Counter: lookups the event path could not hand to the CRI task because its queue was
/// full (the next resync covers them). Labels: `component_id`.
pub const K8S_CRI_REQUESTS_DROPPED: &str = "kotel.k8s_cri.requests.dropped";

/// Counter: updates that went to a metric's overflow series because it had reached the
/// `aggregate` processor's `cardinality_limit`. Labels: `component_id`, `metric`.
pub const AGGREGATE_OVERFLOW: &str = "kotel.aggregate.overflow";
/// Counter: histograms the `aggregate` processor refused because no kernel makes them
/// (a replayed or corrupt record). Labels: `component_id`, `metric`, `reason` (`scale`:
/// not the kernel's scale; `index_range`: buckets outside the kernel's index range).
pub const AGGREGATE_REFUSED: &str = "kotel.aggregate.refused";

/// Counter: data points (metrics) or log records the backend accepted. Labels:
/// `component_id`, `signal` (`metrics`, `logs`).
pub const OTLP_SENT: &str = "kotel.exporter.otlp.sent";
/// Counter: encoded request bytes (before compression) the backend accepted. Labels:
/// `component_id`, `signal`.
pub const OTLP_SENT_BYTES: &str = "kotel.exporter.otlp.sent.bytes";
/// Counter: data points or log records lost. Labels: `component_id`, `signal`, `reason`
/// (`queue_full`: oldest dropped for room; `rejected`: a non-retryable failure;
/// `retries_exhausted`; `partial_rejected`: the backend's partial success; `shutdown`:
/// unsent when the agent stopped).
pub const OTLP_DROPPED: &str = "kotel.exporter.otlp.dropped";
/// Counter: retried sends. Labels: `component_id`, `signal`.
pub const OTLP_RETRIES: &str = "kotel.exporter.otlp.retries";
/// Counter: microseconds spent sending (all attempts). Labels: `component_id`, `signal`.
pub const OTLP_SEND_DURATION_US: &str = "kotel.exporter.otlp.send.duration_us";
/// Gauge: requests waiting in the queue. Labels: `component_id`.
pub const OTLP_QUEUE_REQUESTS: &str = "kotel.exporter.otlp.queue.requests";
/// Gauge: encoded bytes waiting in the queue. Labels: `component_id`.
pub const OTLP_QUEUE_BYTES: &str = "kotel.exporter.otlp.queue.bytes";

/// Counter: checks of the pipeline file that found it changed, by `result`: `applied`
/// (the pipelines were restarted with it), `invalid` (refused: the running pipelines
/// stay), `unchanged` (the text changed, the effective configuration did not),
/// `unreadable` (the file could not be read).
pub const CONFIG_RELOADS: &str = "kotel.config.reloads";

/// Label: the component id (`type[/name]`).
pub const COMPONENT_ID: &str = "component_id";
/// Label: `source`, `processor` or `exporter`.
pub const COMPONENT_KIND: &str = "component_kind";
/// Label: a kernel program's name.
pub const PROGRAM: &str = "program";
/// Label: why something was dropped or failed.
pub const REASON: &str = "reason";
