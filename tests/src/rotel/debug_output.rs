//! A parser of what `rotel-agent --debug-log metrics --debug-log logs
//! --debug-log-verbosity detailed` prints for every OTLP request it receives (the
//! OpenTelemetry Collector's debug-exporter text format), into structured data.
//!
//! Facts of the format this parser relies on (rotel 0.0.1-alpha10, PyPI `rotel` 0.0.1a15;
//! samples in tests/testdata/rotel/):
//! - Each request prints as one block, written with a single `write`: `ResourceMetrics #0`
//!   or `ResourceLog #0` (numbering restarts in every block), then `Resource attributes:`,
//!   `ScopeMetrics #i`/`ScopeLogs #i`, `InstrumentationScope NAME VERSION`, then
//!   `Metric #i` (a `Descriptor:` and its data points) or `LogRecord #i`. Rotel's own log
//!   lines (ANSI-coloured, timestamped) are interleaved between blocks and skipped here.
//! - Attributes print one per line as `     -> KEY: Type(value)`, the type being `Str`,
//!   `Int`, `Double`, `Bool`, `Bytes([..])`, `Slice(..)`, `Map(k:Type(v), ..)` or `Empty`;
//!   a header without attributes (`Resource attributes:`, `Data point attributes:`,
//!   `Attributes:`) is left out entirely. A string is printed raw: a newline in it
//!   continues on the next line, a `)` in it is not escaped.
//! - Numbers print in Rust's shortest round-trip form: a double point with an integral
//!   value prints like an int (`2.0` as `Value: 2`), `1e300` prints all its digits.
//! - Temporality prints as `AGGREGATION_TEMPORALITY_DELTA`/`_CUMULATIVE`; gauges have
//!   none, only sums have `IsMonotonic`.
//! - An exponential histogram prints neither its scale nor its offsets, only each
//!   bucket's bounds: positive buckets `Bucket (lower, upper], Count: n` in index order,
//!   the zero bucket `Bucket [0, 0], Count: n` only when its count is not 0, and negative
//!   buckets `Bucket [-upper, -lower), Count: n` from the highest index down. The scale
//!   and offsets are derived here from those bounds (`lower = 2^(index / 2^scale)`).

use std::collections::BTreeMap;

/// Attribute values by key: a `Str`, `Int`, `Double` or `Bool` value as the text inside
/// its parentheses (`Str(a b)` → `a b`, `Int(7)` → `7`), any other value as printed
/// (`Slice(Str(a), Str(b))`), `Empty` as the empty string.
pub type Attributes = BTreeMap<String, String>;

/// The type rotel printed for each attribute value, by key.
pub type AttributeKinds = BTreeMap<String, ValueKind>;

/// The type of an OTLP `AnyValue` as rotel prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Str,
    Int,
    Double,
    Bool,
    Bytes,
    Slice,
    Map,
    Empty,
    /// Printed in a form this parser does not know.
    Other,
}

/// The instrumentation scope a metric or log came under.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub name: String,
    pub version: String,
    pub attributes: Attributes,
}

/// The OTLP data type of a metric (`DataType:` in the descriptor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Gauge,
    Sum,
    Histogram,
    ExponentialHistogram,
    Summary,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temporality {
    Delta,
    Cumulative,
    Unspecified,
}

/// One metric of one received request, with the resource and scope it came under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetric {
    pub resource: Attributes,
    pub scope: Scope,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub kind: MetricKind,
    /// None for gauges (and summaries).
    pub temporality: Option<Temporality>,
    /// Only sums say whether they are monotonic.
    pub monotonic: Option<bool>,
    pub points: Vec<ReceivedPoint>,
}

/// One data point of a [`ReceivedMetric`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedPoint {
    pub attributes: Attributes,
    pub attribute_kinds: AttributeKinds,
    /// 0 when not set (gauges).
    pub start_time_unix_nano: u64,
    pub time_unix_nano: u64,
    pub value: PointValue,
    pub exemplars: Vec<Exemplar>,
}

/// The value of a data point.
#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// A sum or gauge point whose value parses as an i64 — which includes a double point
    /// with an integral value (rotel prints `2.0` as `2`): compare with [`Self::as_f64`].
    Int(i64),
    Double(f64),
    Histogram(HistogramValue),
    ExponentialHistogram(ExponentialHistogramValue),
    /// No value line was printed (or a summary point, which this parser does not read).
    Missing,
}

/// An explicit-bounds histogram point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramValue {
    pub count: u64,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub explicit_bounds: Vec<f64>,
    /// One more than `explicit_bounds` (the last bucket is `(last bound, +Inf)`).
    pub bucket_counts: Vec<u64>,
}

/// An exponential histogram point (see the module doc for what is derived).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExponentialHistogramValue {
    pub count: u64,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub zero_count: u64,
    /// Derived from the first bucket's bounds; None when no bucket was printed.
    pub scale: Option<i32>,
    /// Index of the first positive bucket; None without positive buckets (or scale).
    pub positive_offset: Option<i32>,
    /// Positive buckets in index order.
    pub positive: Vec<ExponentialBucket>,
    /// Index of the first negative bucket (the one nearest zero).
    pub negative_offset: Option<i32>,
    /// Negative buckets in index order (nearest zero first), bounds as magnitudes.
    pub negative: Vec<ExponentialBucket>,
}

/// One bucket of an exponential histogram: values of magnitude in `(lower, upper]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialBucket {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
}

/// An exemplar of a data point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exemplar {
    pub trace_id: String,
    pub span_id: String,
    pub time_unix_nano: u64,
    pub value: f64,
}

/// One received log record, with the resource and scope it came under.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedLog {
    pub resource: Attributes,
    pub scope: Scope,
    /// 0 when the sender did not set it.
    pub time_unix_nano: u64,
    pub observed_time_unix_nano: u64,
    pub severity_text: String,
    /// The number in `SEVERITY_NUMBER_WARN(13)`; 0 when unspecified.
    pub severity_number: i32,
    /// A `Str` body as its text, any other body as printed (`Map(k:Str(v))`), `Empty` as "".
    pub body: String,
    pub body_kind: ValueKind,
    pub attributes: Attributes,
    pub attribute_kinds: AttributeKinds,
    /// Lowercase hex; empty when the record has no trace context.
    pub trace_id: String,
    pub span_id: String,
    pub flags: u32,
}

/// One received span, with the resource and scope it came under.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReceivedSpan {
    pub resource: Attributes,
    pub scope: Scope,
    /// Lowercase hex.
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// As printed: `SPAN_KIND_SERVER`, `SPAN_KIND_CLIENT`, ...
    pub kind: String,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    /// As printed: `STATUS_CODE_UNSET`, `STATUS_CODE_ERROR`, ...
    pub status_code: String,
    pub status_message: String,
    pub attributes: Attributes,
    pub attribute_kinds: AttributeKinds,
}

/// Everything parsed from one stretch of output, in the order it was printed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Received {
    pub metrics: Vec<ReceivedMetric>,
    pub logs: Vec<ReceivedLog>,
    pub spans: Vec<ReceivedSpan>,
}

impl Received {
    /// Every received instance of metric `name` (one per request that carried it).
    pub fn metrics_named<'a>(
        &'a self,
        name: &str,
    ) -> impl Iterator<Item = &'a ReceivedMetric> + 'a {
        let name = name.to_string();
        self.metrics.iter().filter(move |m| m.name == name)
    }

    /// The last received instance of metric `name`.
    pub fn last_metric(&self, name: &str) -> Option<&ReceivedMetric> {
        self.metrics_named(name).last()
    }

    /// Names of all received metrics, each once, sorted.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metrics.iter().map(|m| m.name.clone()).collect();
        names.sort();
        names.dedup();
        names
    }
}

impl ReceivedMetric {
    /// The first point whose attributes include every `(key, value)` of `attributes`.
    pub fn point_with(&self, attributes: &[(&str, &str)]) -> Option<&ReceivedPoint> {
        self.points.iter().find(|p| p.has_attributes(attributes))
    }
}

impl ReceivedPoint {
    /// True when the point's attributes include every `(key, value)` given.
    pub fn has_attributes(&self, attributes: &[(&str, &str)]) -> bool {
        attributes
            .iter()
            .all(|(k, v)| self.attributes.get(*k).map(String::as_str) == Some(*v))
    }

    /// The value of a sum or gauge point.
    pub fn number(&self) -> Option<f64> {
        self.value.as_f64()
    }

    pub fn histogram(&self) -> Option<&HistogramValue> {
        match &self.value {
            PointValue::Histogram(h) => Some(h),
            _ => None,
        }
    }

    pub fn exponential_histogram(&self) -> Option<&ExponentialHistogramValue> {
        match &self.value {
            PointValue::ExponentialHistogram(h) => Some(h),
            _ => None,
        }
    }
}

impl PointValue {
    /// The value of an `Int` or `Double` point as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            PointValue::Int(v) => Some(*v as f64),
            PointValue::Double(v) => Some(*v),
            _ => None,
        }
    }
}

impl ExponentialHistogramValue {
    pub fn positive_bucket_counts(&self) -> Vec<u64> {
        self.positive.iter().map(|b| b.count).collect()
    }

    pub fn negative_bucket_counts(&self) -> Vec<u64> {
        self.negative.iter().map(|b| b.count).collect()
    }
}

impl ReceivedLog {
    /// True when the record's attributes include every `(key, value)` given.
    pub fn has_attributes(&self, attributes: &[(&str, &str)]) -> bool {
        attributes
            .iter()
            .all(|(k, v)| self.attributes.get(*k).map(String::as_str) == Some(*v))
    }
}

/// Parses rotel's debug output (metrics and logs interleaved, rotel's own log lines
/// anywhere between blocks). Lines it does not know are skipped; a block cut short at the
/// end of `text` yields what it printed so far.
pub fn parse(text: &str) -> Received {
    let mut parser = Parser::default();
    for line in logical_lines(text) {
        parser.line(&line);
    }
    let mut received = parser.out;
    for metric in &mut received.metrics {
        for point in &mut metric.points {
            if let PointValue::ExponentialHistogram(h) = &mut point.value {
                derive_exponential_layout(h);
            }
        }
    }
    received
}

/// The text split into lines with ANSI colour sequences removed and with a value that
/// continues past a newline (a string holding one) joined back into one line: a line
/// whose typed value (`Str(`, `Slice(`, `Map(`) is not closed by a `)` at its end takes
/// the next lines until one ends with `)`. (A string holding `)` right before a newline
/// is therefore cut there; the rest of it is skipped as unknown lines.)
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut open = false;
    for raw in text.lines() {
        let line = strip_ansi(raw);
        if open {
            let last = lines.last_mut().expect("an open line");
            last.push('\n');
            last.push_str(&line);
        } else {
            lines.push(line);
        }
        let current = lines.last().expect("a line");
        open = typed_value_of(current)
            .is_some_and(|v| ["Str(", "Slice(", "Map("].iter().any(|p| v.starts_with(p)))
            && !current.ends_with(')');
    }
    lines
}

/// The typed value of an attribute line or a `Body:` line.
fn typed_value_of(line: &str) -> Option<&str> {
    if let Some(rest) = line.strip_prefix(ATTRIBUTE_PREFIX) {
        return split_key_value(rest).map(|(_, v)| v);
    }
    line.strip_prefix("Body: ")
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

const ATTRIBUTE_PREFIX: &str = "     -> ";

/// `key: value` split at the first `": "`; a bare `key:` has an empty value.
fn split_key_value(s: &str) -> Option<(&str, &str)> {
    match s.find(": ") {
        Some(i) => Some((&s[..i], &s[i + 2..])),
        None => s.strip_suffix(':').map(|k| (k, "")),
    }
}

/// A printed `AnyValue` as its kind and text (see [`Attributes`]).
fn typed_value(printed: &str) -> (ValueKind, String) {
    if printed == "Empty" {
        return (ValueKind::Empty, String::new());
    }
    let scalars = [
        ("Str(", ValueKind::Str),
        ("Int(", ValueKind::Int),
        ("Double(", ValueKind::Double),
        ("Bool(", ValueKind::Bool),
    ];
    for (prefix, kind) in scalars {
        if let Some(inner) = printed
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(')'))
        {
            return (kind, inner.to_string());
        }
    }
    let composites = [
        ("Bytes(", ValueKind::Bytes),
        ("Slice(", ValueKind::Slice),
        ("Map(", ValueKind::Map),
    ];
    let kind = composites
        .iter()
        .find(|(prefix, _)| printed.starts_with(prefix))
        .map_or(ValueKind::Other, |(_, kind)| *kind);
    (kind, printed.to_string())
}

/// Where `     -> key: value` lines go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Section {
    #[default]
    None,
    Resource,
    Scope,
    Descriptor,
    PointAttributes,
    Exemplar,
    LogAttributes,
    SpanAttributes,
}

/// Which record the unprefixed `Timestamp:` line belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Record {
    #[default]
    None,
    Metric,
    Log,
    Span,
}

#[derive(Default)]
struct Parser {
    out: Received,
    resource: Attributes,
    scope: Scope,
    section: Section,
    record: Record,
}

impl Parser {
    fn line(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix(ATTRIBUTE_PREFIX) {
            if let Some((key, value)) = split_key_value(rest) {
                self.attribute(key, value);
            }
            return;
        }
        if line.starts_with("ResourceMetrics #")
            || line.starts_with("ResourceLog")
            || line.starts_with("ResourceSpans #")
        {
            self.resource.clear();
            self.scope = Scope::default();
            self.section = Section::None;
            self.record = Record::None;
        } else if line == "Resource attributes:" {
            self.section = Section::Resource;
        } else if line.starts_with("ScopeMetrics #")
            || line.starts_with("ScopeLogs #")
            || line.starts_with("ScopeSpans #")
        {
            self.scope = Scope::default();
            self.section = Section::None;
            self.record = Record::None;
        } else if line == "InstrumentationScope attributes:" {
            self.section = Section::Scope;
        } else if let Some(rest) = line.strip_prefix("InstrumentationScope ") {
            let (name, version) = rest.split_once(' ').unwrap_or((rest, ""));
            self.scope.name = name.to_string();
            self.scope.version = version.trim().to_string();
        } else if line.starts_with("Metric #") {
            self.start_metric();
        } else if line == "Descriptor:" {
            self.section = Section::Descriptor;
        } else if let Some(value) = point_header(line) {
            self.section = Section::None;
            if let Some(metric) = self.metric() {
                metric.points.push(ReceivedPoint {
                    attributes: Attributes::new(),
                    attribute_kinds: AttributeKinds::new(),
                    start_time_unix_nano: 0,
                    time_unix_nano: 0,
                    value,
                    exemplars: Vec::new(),
                });
            }
        } else if line == "Data point attributes:" {
            self.section = Section::PointAttributes;
        } else if line.starts_with("Exemplar #") {
            self.section = Section::Exemplar;
            if let Some(point) = self.point() {
                point.exemplars.push(Exemplar::default());
            }
        } else if line.starts_with("LogRecord #") {
            self.start_log();
        } else if line.starts_with("Span #") {
            self.section = Section::None;
            self.record = Record::Span;
            self.out.spans.push(ReceivedSpan {
                resource: self.resource.clone(),
                scope: self.scope.clone(),
                ..ReceivedSpan::default()
            });
        } else if line == "Attributes:" {
            self.section = if self.record == Record::Span {
                Section::SpanAttributes
            } else {
                Section::LogAttributes
            };
        } else if self.record == Record::Span {
            self.span_line(line);
        } else if self.record == Record::Log {
            self.log_line(line);
        } else if self.record == Record::Metric {
            self.point_line(line);
        }
    }

    fn start_metric(&mut self) {
        self.section = Section::None;
        self.record = Record::Metric;
        self.out.metrics.push(ReceivedMetric {
            resource: self.resource.clone(),
            scope: self.scope.clone(),
            name: String::new(),
            description: String::new(),
            unit: String::new(),
            kind: MetricKind::Unknown,
            temporality: None,
            monotonic: None,
            points: Vec::new(),
        });
    }

    fn start_log(&mut self) {
        self.section = Section::None;
        self.record = Record::Log;
        self.out.logs.push(ReceivedLog {
            resource: self.resource.clone(),
            scope: self.scope.clone(),
            time_unix_nano: 0,
            observed_time_unix_nano: 0,
            severity_text: String::new(),
            severity_number: 0,
            body: String::new(),
            body_kind: ValueKind::Empty,
            attributes: Attributes::new(),
            attribute_kinds: AttributeKinds::new(),
            trace_id: String::new(),
            span_id: String::new(),
            flags: 0,
        });
    }

    fn metric(&mut self) -> Option<&mut ReceivedMetric> {
        match self.record {
            Record::Metric => self.out.metrics.last_mut(),
            _ => None,
        }
    }

    fn point(&mut self) -> Option<&mut ReceivedPoint> {
        self.metric()?.points.last_mut()
    }

    fn log(&mut self) -> Option<&mut ReceivedLog> {
        match self.record {
            Record::Log => self.out.logs.last_mut(),
            _ => None,
        }
    }

    fn attribute(&mut self, key: &str, printed: &str) {
        match self.section {
            Section::Resource => {
                self.resource.insert(key.into(), typed_value(printed).1);
            }
            Section::Scope => {
                self.scope
                    .attributes
                    .insert(key.into(), typed_value(printed).1);
            }
            Section::Descriptor => {
                if let Some(metric) = self.metric() {
                    describe(metric, key, printed);
                }
            }
            Section::PointAttributes => {
                if let Some(point) = self.point() {
                    let (kind, text) = typed_value(printed);
                    point.attributes.insert(key.into(), text);
                    point.attribute_kinds.insert(key.into(), kind);
                }
            }
            Section::Exemplar => {
                if let Some(exemplar) = self.point().and_then(|p| p.exemplars.last_mut()) {
                    match key {
                        "Trace ID" => exemplar.trace_id = printed.to_string(),
                        "Span ID" => exemplar.span_id = printed.to_string(),
                        "Timestamp" => exemplar.time_unix_nano = printed.parse().unwrap_or(0),
                        "Value" => exemplar.value = printed.parse().unwrap_or(f64::NAN),
                        _ => {}
                    }
                }
            }
            Section::LogAttributes => {
                if let Some(log) = self.log() {
                    let (kind, text) = typed_value(printed);
                    log.attributes.insert(key.into(), text);
                    log.attribute_kinds.insert(key.into(), kind);
                }
            }
            Section::SpanAttributes => {
                if let Some(span) = self.span() {
                    let (kind, text) = typed_value(printed);
                    span.attributes.insert(key.into(), text);
                    span.attribute_kinds.insert(key.into(), kind);
                }
            }
            Section::None => {}
        }
    }

    fn span(&mut self) -> Option<&mut ReceivedSpan> {
        match self.record {
            Record::Span => self.out.spans.last_mut(),
            _ => None,
        }
    }

    /// `Trace ID       : ...`, `Start time: ...` and the like.
    fn span_line(&mut self, line: &str) {
        let Some(span) = self.span() else {
            return;
        };
        let Some((key, value)) = line.trim().split_once(':') else {
            return;
        };
        let value = value.trim().to_string();
        match key.trim() {
            "Trace ID" => span.trace_id = value,
            "Parent ID" => span.parent_span_id = value,
            "ID" => span.span_id = value,
            "Name" => span.name = value,
            "Kind" => span.kind = value,
            "Start time" => span.start_time_unix_nano = value.parse().unwrap_or(0),
            "End time" => span.end_time_unix_nano = value.parse().unwrap_or(0),
            "Status code" => span.status_code = value,
            "Status message" => span.status_message = value,
            _ => {}
        }
    }

    fn point_line(&mut self, line: &str) {
        let Some(point) = self.point() else {
            return;
        };
        if let Some(v) = line.strip_prefix("StartTimestamp: ") {
            point.start_time_unix_nano = v.parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Timestamp: ") {
            point.time_unix_nano = v.parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Value: ") {
            point.value = match v.parse::<i64>() {
                Ok(int) => PointValue::Int(int),
                Err(_) => PointValue::Double(v.parse().unwrap_or(f64::NAN)),
            };
        } else if let Some(v) = line.strip_prefix("ExplicitBounds #") {
            if let (PointValue::Histogram(h), Some((_, bound))) =
                (&mut point.value, v.split_once(": "))
            {
                h.explicit_bounds.push(bound.parse().unwrap_or(f64::NAN));
            }
        } else if let Some(v) = line.strip_prefix("Buckets #") {
            if let (PointValue::Histogram(h), Some((_, count))) =
                (&mut point.value, v.split_once(", Count: "))
            {
                h.bucket_counts.push(count.parse().unwrap_or(0));
            }
        } else if let Some(v) = line.strip_prefix("Bucket ") {
            if let PointValue::ExponentialHistogram(h) = &mut point.value {
                exponential_bucket(h, v);
            }
        } else if let Some((key, v)) = split_key_value(line) {
            set_statistic(&mut point.value, key, v);
        }
    }

    fn log_line(&mut self, line: &str) {
        let Some(log) = self.log() else {
            return;
        };
        let trimmed = line.trim_start();
        if let Some(v) = line.strip_prefix("ObservedTimestamp: ") {
            log.observed_time_unix_nano = v.parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Timestamp: ") {
            log.time_unix_nano = v.parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("SeverityText: ") {
            log.severity_text = v.to_string();
        } else if let Some(v) = line.strip_prefix("SeverityNumber: ") {
            log.severity_number = v
                .rsplit_once('(')
                .and_then(|(_, n)| n.strip_suffix(')'))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Body: ") {
            (log.body_kind, log.body) = typed_value(v);
        } else if let Some(v) = line.strip_prefix("Flags: ") {
            log.flags = v.parse().unwrap_or(0);
        } else if trimmed.starts_with("Trace ID") || trimmed.starts_with("Span ID") {
            let value = trimmed.split_once(':').map_or("", |(_, v)| v.trim());
            if trimmed.starts_with("Trace ID") {
                log.trace_id = value.to_string();
            } else {
                log.span_id = value.to_string();
            }
        }
    }
}

/// The empty value of a data point header line (`HistogramDataPoints #0`, ...).
fn point_header(line: &str) -> Option<PointValue> {
    let (kind, _) = line.split_once(" #")?;
    Some(match kind {
        "NumberDataPoints" | "SummaryDataPoints" => PointValue::Missing,
        "HistogramDataPoints" => PointValue::Histogram(HistogramValue::default()),
        "ExponentialHistogramDataPoints" => {
            PointValue::ExponentialHistogram(ExponentialHistogramValue::default())
        }
        _ => return None,
    })
}

fn describe(metric: &mut ReceivedMetric, key: &str, value: &str) {
    match key {
        "Name" => metric.name = value.to_string(),
        "Description" => metric.description = value.to_string(),
        "Unit" => metric.unit = value.to_string(),
        "DataType" => {
            metric.kind = match value {
                "Gauge" => MetricKind::Gauge,
                "Sum" => MetricKind::Sum,
                "Histogram" => MetricKind::Histogram,
                "ExponentialHistogram" => MetricKind::ExponentialHistogram,
                "Summary" => MetricKind::Summary,
                _ => MetricKind::Unknown,
            }
        }
        "IsMonotonic" => metric.monotonic = value.parse().ok(),
        "AggregationTemporality" => {
            metric.temporality = Some(match value {
                "AGGREGATION_TEMPORALITY_DELTA" => Temporality::Delta,
                "AGGREGATION_TEMPORALITY_CUMULATIVE" => Temporality::Cumulative,
                _ => Temporality::Unspecified,
            })
        }
        _ => {}
    }
}

/// `Count:`, `Sum:`, `Min:`, `Max:` of a histogram point of either kind.
fn set_statistic(value: &mut PointValue, key: &str, text: &str) {
    let (count, sum, min, max) = match value {
        PointValue::Histogram(h) => (&mut h.count, &mut h.sum, &mut h.min, &mut h.max),
        PointValue::ExponentialHistogram(h) => (&mut h.count, &mut h.sum, &mut h.min, &mut h.max),
        _ => return,
    };
    match key {
        "Count" => *count = text.parse().unwrap_or(0),
        "Sum" => *sum = text.parse().ok(),
        "Min" => *min = text.parse().ok(),
        "Max" => *max = text.parse().ok(),
        _ => {}
    }
}

/// One `Bucket ...` line of an exponential histogram (after `Bucket `): `(l, u], Count: n`
/// positive, `[0, 0], Count: n` zero, `[-u, -l), Count: n` negative (printed from the
/// highest index down: collected here in that order, reversed by
/// [`derive_exponential_layout`]).
fn exponential_bucket(h: &mut ExponentialHistogramValue, text: &str) {
    let Some((range, count)) = text.rsplit_once(", Count: ") else {
        return;
    };
    let count = count.parse().unwrap_or(0);
    if range == "[0, 0]" {
        h.zero_count = count;
        return;
    }
    let inner = &range[1.min(range.len())..range.len().saturating_sub(1)];
    let Some((a, b)) = inner.split_once(", ") else {
        return;
    };
    let (Ok(a), Ok(b)) = (a.parse::<f64>(), b.parse::<f64>()) else {
        return;
    };
    if range.starts_with('(') {
        h.positive.push(ExponentialBucket {
            lower: a,
            upper: b,
            count,
        });
    } else {
        h.negative.push(ExponentialBucket {
            lower: -b,
            upper: -a,
            count,
        });
    }
}

/// Puts negative buckets in index order and derives the scale and offsets from the
/// bounds: bucket `index` at `scale` covers `(2^(index/2^scale), 2^((index+1)/2^scale)]`.
fn derive_exponential_layout(h: &mut ExponentialHistogramValue) {
    h.negative.reverse();
    let finite = |b: &&ExponentialBucket| b.lower > 0.0 && b.upper.is_finite() && b.upper > b.lower;
    h.scale = h
        .positive
        .iter()
        .chain(&h.negative)
        .find(finite)
        .map(|b| -(b.upper / b.lower).log2().log2().round() as i32);
    let Some(scale) = h.scale else {
        return;
    };
    let index = |b: &ExponentialBucket| (b.lower.log2() * 2f64.powi(scale)).round() as i32;
    h.positive_offset = h.positive.first().map(index);
    h.negative_offset = h.negative.first().map(index);
}

#[cfg(test)]
#[path = "debug_output_tests.rs"]
mod tests;
