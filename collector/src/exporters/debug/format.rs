//! Text rendering of events for the debug exporter.

use std::fmt::Write;
use std::net::SocketAddr;

use crate::event::{
    CgroupHistogram, Event, ExecEvent, FileOpenEvent, HttpEvent, MetricBatch, MetricData,
    TcpConnEvent, TcpCounters, TelemetrySnapshot, Workload,
};
use crate::exporters::debug::Verbosity;
use crate::telemetry::names;

/// Appends `event` to `out` at `verbosity`, ending with a newline.
pub fn event(out: &mut String, event: &Event, verbosity: Verbosity) {
    let start = out.len();
    match verbosity {
        Verbosity::Basic => {
            line(out, event);
            if let Some(workload) = event.workload() {
                append_workload(out, start, workload);
            }
        }
        Verbosity::Detailed => match event {
            Event::Telemetry(t) => telemetry_detailed(out, t),
            e => fields(out, e),
        },
    }
}

/// Appends the one-line rendering of `event` without its workload, ending with a
/// newline (the body of an OTLP log record).
pub fn line(out: &mut String, event: &Event) {
    match event {
        Event::Tcp(e) => tcp_line(out, e),
        Event::TcpCounters(c) => counters_line(out, c),
        Event::Histogram(h) => histogram_line(out, h),
        Event::Exec(e) => exec_line(out, e),
        Event::FileOpen(e) => file_open_line(out, e),
        Event::Http(e) => http_line(out, e),
        Event::Telemetry(t) => telemetry_line(out, t),
        Event::Metrics(m) => metrics_lines(out, m),
    }
}

/// Appends ` {k=v ...}` to the line that begins at `start`, before its newline.
fn append_workload(out: &mut String, start: usize, workload: &Workload) {
    if out.len() > start && out.ends_with('\n') {
        out.pop();
    }
    let _ = writeln!(out, " {{{}}}", workload.to_line());
}

fn tcp_line(out: &mut String, e: &TcpConnEvent) {
    let local = SocketAddr::new(e.local_addr, e.local_port);
    let remote = SocketAddr::new(e.remote_addr, e.remote_port);
    let arrow = match e.direction {
        crate::event::Direction::Inbound => "<-",
        _ => "->",
    };
    let _ = write!(
        out,
        "{} tcp {:<14} pid={} comm={} cgroup={} {local} {arrow} {remote}",
        rfc3339(e.time_unix_nano),
        e.kind.as_str(),
        e.pid,
        e.comm,
        e.cgroup_id,
    );
    if let Some(ns) = e.connect_latency_ns {
        let _ = write!(out, " connect_latency={}", millis(ns));
    }
    if let Some(ns) = e.duration_ns {
        let _ = write!(out, " duration={}", millis(ns));
    }
    if let Some(state) = &e.failed_state {
        let _ = write!(out, " failed_in={state}");
    }
    out.push('\n');
}

fn http_line(out: &mut String, e: &HttpEvent) {
    let side = match e.side {
        crate::event::HttpSide::Server => "server",
        crate::event::HttpSide::Client => "client",
    };
    let _ = write!(
        out,
        "{} http {side} pid={} comm={} cgroup={} {} {} HTTP/{} -> {} route={} duration={:.3}ms peer={}:{} trace={} span={}",
        rfc3339(e.start_time_unix_nano),
        e.pid,
        e.comm,
        e.cgroup_id,
        e.method,
        e.path,
        e.version,
        e.status,
        e.route,
        e.duration_seconds() * 1e3,
        e.peer_address,
        e.peer_port,
        e.trace_id,
        e.span_id,
    );
    if let Some(parent) = e.parent_span_id {
        let _ = write!(out, " parent={parent}");
    }
    if let Some(f) = e.failure {
        let _ = write!(out, " failure={}", f.as_str());
    }
    out.push('\n');
}

fn counters_line(out: &mut String, c: &TcpCounters) {
    let _ = writeln!(
        out,
        "{} tcp_counters   cgroup={} retransmits={} resets_sent={} resets_received={} over={}",
        rfc3339(c.time_unix_nano),
        c.cgroup_id,
        c.retransmits,
        c.resets_sent,
        c.resets_received,
        millis(c.interval_ns),
    );
}

fn histogram_line(out: &mut String, h: &CgroupHistogram) {
    let metric = serde_json::to_value(h.metric)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mean = if h.count > 0 {
        h.sum / h.count as f64
    } else {
        0.0
    };
    let _ = write!(
        out,
        "{} histogram {metric} cgroup={} count={} mean={:.3}ms",
        rfc3339(h.time_unix_nano),
        h.cgroup_id,
        h.count,
        mean * 1e3,
    );
    if let Some(upper) = median_upper_bound(h) {
        let _ = write!(out, " p50<={:.3}ms", upper * 1e3);
    }
    out.push('\n');
}

/// Upper bound (seconds) of the bucket holding the median sample, if any. Histograms
/// outside OTLP's scale range (-10..=20) or with absurd offsets (replayed files) give `None`.
fn median_upper_bound(h: &CgroupHistogram) -> Option<f64> {
    let half = h.count.div_ceil(2);
    if h.count == 0 || h.zero_count >= half || !(-10..=20).contains(&h.scale) {
        return None;
    }
    let base = 2f64.powf(2f64.powi(-h.scale));
    let mut seen = h.zero_count;
    for (i, n) in h.bucket_counts.iter().enumerate() {
        seen = seen.saturating_add(*n);
        if seen >= half {
            let index = i64::from(h.offset) + i as i64 + 1;
            return i32::try_from(index).ok().map(|i| base.powi(i));
        }
    }
    None
}

fn exec_line(out: &mut String, e: &ExecEvent) {
    let exe = if e.executable.is_empty() || e.executable == e.path {
        String::new()
    } else {
        format!(" exe={}", e.executable)
    };
    let kind = match e.executable_kind.as_str() {
        "" | "file" => String::new(),
        other => format!(" ({other})"),
    };
    let script = if e.script.is_empty() {
        String::new()
    } else {
        format!(" script={} interpreter={}", e.script, e.interpreter)
    };
    let _ = writeln!(
        out,
        "{} exec           pid={} ppid={} uid={} comm={} cgroup={} {}{}{exe}{kind}{script} cwd={} [{}]{}",
        rfc3339(e.time_unix_nano),
        e.pid,
        e.ppid,
        e.uid,
        e.comm,
        e.cgroup_id,
        e.path,
        if e.path_truncated { "…" } else { "" },
        e.working_directory,
        e.args.join(" "),
        if e.args_truncated {
            " (args truncated)"
        } else {
            ""
        },
    );
}

fn file_open_line(out: &mut String, e: &FileOpenEvent) {
    let result = if e.errno == 0 {
        "ok".to_string()
    } else {
        format!("errno={}", e.errno)
    };
    let requested = if e.requested_path.is_empty() || e.requested_path == e.path {
        String::new()
    } else {
        format!(" (requested {})", e.requested_path)
    };
    let _ = writeln!(
        out,
        "{} file_open      pid={} comm={} cgroup={} {}{}{requested} access={} {result} match={} watch={}{}",
        rfc3339(e.time_unix_nano),
        e.pid,
        e.comm,
        e.cgroup_id,
        if e.path_truncated { "…" } else { "" },
        e.path,
        e.access.join(","),
        e.matched,
        e.watched_path,
        if e.unlinked { " unlinked" } else { "" },
    );
}

/// Every field of the event's JSON form, one `key: value` per line.
fn fields(out: &mut String, e: &Event) {
    let _ = writeln!(out, "Event {}", e.name());
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(e) {
        for (key, value) in map.iter().filter(|(k, _)| k.as_str() != "type") {
            match value {
                serde_json::Value::String(s) => {
                    let _ = writeln!(out, "    -> {key}: {s}");
                }
                other => {
                    let _ = writeln!(out, "    -> {key}: {other}");
                }
            }
        }
    }
}

fn telemetry_line(out: &mut String, t: &TelemetrySnapshot) {
    let sum = |name, labels: &[(&str, &str)]| t.counter_sum(name, labels) as u64;
    let source = [(names::COMPONENT_KIND, "source")];
    let exporter = [(names::COMPONENT_KIND, "exporter")];
    let _ = write!(
        out,
        "{} kotel telemetry: sources emitted={} dropped={}; exporters sent={} dropped={}; errors={}; ringbuf lost={}",
        rfc3339(t.time_unix_nano),
        sum(names::EVENTS_RECEIVED, &source),
        sum(names::EVENTS_DROPPED, &source),
        sum(names::EVENTS_SENT, &exporter),
        sum(names::EVENTS_DROPPED, &exporter),
        sum(names::COMPONENT_ERRORS, &[]),
        sum(names::RINGBUF_LOST, &[]),
    );
    let connected = t.gauges.iter().find(|g| g.name == names::K8S_CRI_CONNECTED);
    if let Some(connected) = connected {
        let lookups = |result| sum(names::K8S_CRI_LOOKUPS, &[("result", result)]);
        let _ = write!(
            out,
            "; k8s_cri runtime={} containers={} hit={} host={} pending={} miss={}",
            if connected.value > 0.0 { "up" } else { "down" },
            t.gauges
                .iter()
                .filter(|g| g.name == names::K8S_CRI_CACHE_CONTAINERS)
                .map(|g| g.value as u64)
                .sum::<u64>(),
            lookups("hit"),
            lookups("host"),
            lookups("pending"),
            lookups("miss"),
        );
    }
    out.push('\n');
}

/// One line per metric: name, unit, kind and point count, then the first points.
fn metrics_lines(out: &mut String, batch: &MetricBatch) {
    let points: usize = batch.metrics.iter().map(|m| m.data.len()).sum();
    let _ = writeln!(
        out,
        "{} metrics        {} metrics, {points} points",
        rfc3339(batch.time_unix_nano),
        batch.metrics.len()
    );
    for metric in &batch.metrics {
        let kind = match &metric.data {
            MetricData::Sum {
                monotonic: true, ..
            } => "counter",
            MetricData::Sum { .. } => "updowncounter",
            MetricData::Histogram { .. } => "histogram",
            MetricData::ExponentialHistogram { .. } => "exponential histogram",
        };
        let _ = writeln!(
            out,
            "    {} ({kind}, {}): {} points",
            metric.name,
            metric.unit,
            metric.data.len()
        );
    }
}

fn telemetry_detailed(out: &mut String, t: &TelemetrySnapshot) {
    let _ = writeln!(out, "{} kotel telemetry", rfc3339(t.time_unix_nano));
    for (kind, points) in [("counter", &t.counters), ("gauge", &t.gauges)] {
        for p in points {
            let labels: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(
                out,
                "    {kind} {}{{{}}} {}",
                p.name,
                labels.join(","),
                p.value
            );
        }
    }
}

fn millis(ns: u64) -> String {
    format!("{:.3}ms", ns as f64 / 1e6)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for nanoseconds since the Unix epoch (UTC).
pub fn rfc3339(unix_nanos: u64) -> String {
    let secs = unix_nanos / 1_000_000_000;
    let millis = (unix_nanos / 1_000_000) % 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
