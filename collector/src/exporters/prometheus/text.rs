//! The Prometheus text exposition format (0.0.4) and OpenMetrics 1.0, with the usual
//! OTel -> Prometheus naming: dots become underscores, the unit becomes a suffix
//! (`s` -> `_seconds`, `By` -> `_bytes`; `{annotations}` are dropped), counters end in
//! `_total`; attribute keys become label names the same way. The agent's own `kotel.*`
//! metrics and a `target_info` series with the resource follow the data.

use std::fmt::Write;

use crate::event::{TelemetryPoint, TelemetrySnapshot};
use crate::exporters::prometheus::classic;
use crate::exporters::prometheus::state::{Family, FamilyKind, ScrapeState, SeriesValue};

/// Which format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The whole scrape.
pub fn render(
    state: &ScrapeState,
    telemetry: &TelemetrySnapshot,
    resource: &[(String, String)],
    format: Format,
) -> String {
    let mut out = String::new();
    for (name, family) in &state.families {
        family_text(&mut out, name, family, format);
    }
    telemetry_text(&mut out, telemetry, format);
    let _ = writeln!(out, "# HELP target_info Target metadata");
    let _ = writeln!(out, "# TYPE target_info gauge");
    let labels: Vec<(String, String)> = resource.to_vec();
    let _ = writeln!(out, "target_info{} 1", label_set(&labels, None));
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// The Prometheus name of an OTel metric.
pub fn metric_name(name: &str, unit: &str, kind: FamilyKind) -> String {
    let mut base = sanitize(name);
    let suffix = match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "1" if kind == FamilyKind::Gauge => "ratio",
        _ => "",
    };
    if !suffix.is_empty() && !base.ends_with(suffix) {
        base.push('_');
        base.push_str(suffix);
    }
    base
}

fn family_text(out: &mut String, name: &str, family: &Family, format: Format) {
    let base = metric_name(name, &family.unit, family.kind);
    let (type_name, sample) = match (family.kind, format) {
        (FamilyKind::Counter, Format::Text) => ("counter", format!("{base}_total")),
        (FamilyKind::Counter, Format::OpenMetrics) => ("counter", base.clone()),
        (FamilyKind::Gauge, _) => ("gauge", base.clone()),
        (FamilyKind::Histogram, _) => ("histogram", base.clone()),
    };
    let family_name = if family.kind == FamilyKind::Counter && format == Format::Text {
        &sample
    } else {
        &base
    };
    let _ = writeln!(
        out,
        "# HELP {family_name} {}",
        escape_help(&family.description)
    );
    let _ = writeln!(out, "# TYPE {family_name} {type_name}");
    for (attributes, (value, _)) in &family.series {
        if let SeriesValue::Number(v) = value {
            let name = match (family.kind, format) {
                (FamilyKind::Counter, Format::OpenMetrics) => format!("{base}_total"),
                _ => sample.clone(),
            };
            let _ = writeln!(out, "{name}{} {v}", label_set(attributes, None));
        }
    }
    for (attributes, histogram) in classic::histograms(family) {
        let labels: Vec<(String, String)> = attributes.to_vec();
        for ((edge, cumulative), exemplar) in histogram.buckets.iter().zip(&histogram.exemplars) {
            let le = format_float(*edge);
            let _ = write!(
                out,
                "{base}_bucket{} {cumulative}",
                label_set(&labels, Some(&le))
            );
            if let (Some(e), Format::OpenMetrics) = (exemplar, format) {
                let _ = write!(
                    out,
                    " # {{trace_id=\"{}\",span_id=\"{}\"}} {} {}",
                    e.trace_id,
                    e.span_id,
                    format_float(e.value),
                    seconds(e.time_unix_nano)
                );
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{base}_sum{} {}",
            label_set(&labels, None),
            format_float(histogram.sum)
        );
        let count = histogram.count;
        let _ = writeln!(out, "{base}_count{} {count}", label_set(&labels, None));
    }
}

fn telemetry_text(out: &mut String, telemetry: &TelemetrySnapshot, format: Format) {
    let groups: [(&[TelemetryPoint], FamilyKind); 2] = [
        (&telemetry.counters, FamilyKind::Counter),
        (&telemetry.gauges, FamilyKind::Gauge),
    ];
    for (points, kind) in groups {
        let mut last_family = String::new();
        for point in points {
            let base = sanitize(&point.name);
            let family = match (kind, format) {
                (FamilyKind::Counter, Format::Text) => format!("{base}_total"),
                _ => base.clone(),
            };
            if family != last_family {
                let type_name = if kind == FamilyKind::Counter {
                    "counter"
                } else {
                    "gauge"
                };
                let _ = writeln!(out, "# TYPE {family} {type_name}");
                last_family = family.clone();
            }
            let sample = if kind == FamilyKind::Counter {
                format!("{base}_total")
            } else {
                base
            };
            let _ = writeln!(
                out,
                "{sample}{} {}",
                label_set(&point.labels, None),
                format_float(point.value)
            );
        }
    }
}

/// `{k="v",...}` (empty when there are no labels), with `le` last when given.
fn label_set(labels: &[(String, String)], le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", sanitize(k), escape_value(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// A metric or label name: `[a-zA-Z_][a-zA-Z0-9_]*` (other characters become `_`).
pub fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Nanoseconds since the epoch as OpenMetrics seconds (`1520879607.789`).
fn seconds(unix_nano: u64) -> String {
    format!(
        "{}.{:09}",
        unix_nano / 1_000_000_000,
        unix_nano % 1_000_000_000
    )
}

fn format_float(x: f64) -> String {
    if x.is_infinite() {
        if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if x.is_nan() {
        "NaN".into()
    } else {
        format!("{x}")
    }
}
