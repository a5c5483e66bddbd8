//! The parser against output captured from a real rotel (tests/testdata/rotel/, made by
//! generate.py there: gRPC with delta temporality, HTTP with cumulative) and against
//! small literal cases the Python SDK cannot produce.

use super::*;

const GRPC_DELTA: &str = include_str!("../../testdata/rotel/grpc-delta.txt");
const HTTP_CUMULATIVE: &str = include_str!("../../testdata/rotel/http-cumulative.txt");

fn only<'a>(received: &'a Received, name: &str) -> &'a ReceivedMetric {
    received
        .metrics_named(name)
        .next()
        .unwrap_or_else(|| panic!("no {name} in {:?}", received.metric_names()))
}

#[test]
fn blocks_resources_and_scopes() {
    let received = parse(GRPC_DELTA);
    // The metric reader's flush sends every metric; its shutdown sends the gauges again
    // (delta sums with nothing new are left out).
    assert_eq!(received.metrics.len(), 12);
    assert_eq!(received.logs.len(), 6);
    assert_eq!(received.metrics_named("sample.temp").count(), 2);
    assert_eq!(received.metrics_named("sample.conns").count(), 1);
    let conns = only(&received, "sample.conns");
    assert_eq!(conns.resource["service.name"], "sample-grpc");
    assert_eq!(conns.resource["host.name"], "node-1");
    assert_eq!(conns.resource["num.attr"], "7");
    assert_eq!(conns.resource["list.attr"], "Slice(Str(a), Str(b))");
    assert_eq!(conns.resource["telemetry.sdk.language"], "python");
    assert_eq!(conns.scope.name, "kotel.sample");
    assert_eq!(conns.scope.version, "1.2.3");
    assert_eq!(conns.scope.attributes["scope.attr"], "s");
}

#[test]
fn sums_with_their_descriptor_and_points() {
    let received = parse(GRPC_DELTA);
    let conns = only(&received, "sample.conns");
    assert_eq!(conns.description, "Connections, with: punctuation");
    assert_eq!(conns.unit, "{connection}");
    assert_eq!(conns.kind, MetricKind::Sum);
    assert_eq!(conns.temporality, Some(Temporality::Delta));
    assert_eq!(conns.monotonic, Some(true));
    assert_eq!(conns.points.len(), 2);
    let out = conns
        .point_with(&[("direction", "out")])
        .expect("the out point");
    assert_eq!(out.value, PointValue::Int(3));
    assert_eq!(out.attributes["k8s.namespace.name"], "default");
    assert_eq!(out.attribute_kinds["direction"], ValueKind::Str);
    assert!(out.start_time_unix_nano > 1_700_000_000_000_000_000);
    assert!(out.time_unix_nano > out.start_time_unix_nano);
    let inbound = conns
        .point_with(&[("direction", "in")])
        .expect("the in point");
    assert_eq!(inbound.number(), Some(5.0));
    assert_eq!(inbound.attributes["odd"], "a b=c, d) e(");
    assert_eq!(inbound.attributes["empty"], "");

    let bytes = only(&received, "sample.bytes");
    assert_eq!(bytes.description, "");
    assert_eq!(bytes.unit, "By");
    assert_eq!(bytes.points[0].value, PointValue::Double(1.5));
    // A double point of 2.0 prints as `2`.
    assert_eq!(
        only(&received, "sample.whole").points[0].value,
        PointValue::Int(2)
    );
    let active = only(&received, "sample.active");
    assert_eq!(active.monotonic, Some(false));
    assert_eq!(active.points[0].number(), Some(3.0));
    assert!(active.points[0].attributes.is_empty());

    let cumulative = parse(HTTP_CUMULATIVE);
    let conns = only(&cumulative, "sample.conns");
    assert_eq!(conns.temporality, Some(Temporality::Cumulative));
    assert_eq!(conns.resource["service.name"], "sample-http");
    // Cumulative sums are sent again by the reader's shutdown.
    assert_eq!(cumulative.metrics_named("sample.conns").count(), 2);
}

#[test]
fn gauges_have_no_temporality_nor_start() {
    let received = parse(GRPC_DELTA);
    let temp = only(&received, "sample.temp");
    assert_eq!(temp.kind, MetricKind::Gauge);
    assert_eq!(temp.temporality, None);
    assert_eq!(temp.monotonic, None);
    assert_eq!(temp.unit, "Cel");
    let a = temp.point_with(&[("room", "a")]).unwrap();
    assert_eq!(a.value, PointValue::Double(21.5));
    assert_eq!(a.start_time_unix_nano, 0);
    let b = temp.point_with(&[("room", "b")]).unwrap();
    assert_eq!(b.value, PointValue::Int(-3));
    let depth = only(&received, "sample.depth");
    assert_eq!(depth.points[0].value, PointValue::Int(12));
}

#[test]
fn explicit_histograms_and_exemplars() {
    let received = parse(GRPC_DELTA);
    let rtt = only(&received, "sample.rtt");
    assert_eq!(rtt.kind, MetricKind::Histogram);
    assert_eq!(rtt.temporality, Some(Temporality::Delta));
    assert_eq!(rtt.monotonic, None);
    assert_eq!(rtt.description, "Round trip");
    let point = &rtt.points[0];
    assert_eq!(point.attributes["peer"], "10.0.0.1");
    let h = point.histogram().expect("a histogram point");
    assert_eq!(h.count, 5);
    assert_eq!(h.sum, Some(25.2));
    assert_eq!(h.min, Some(0.3));
    assert_eq!(h.max, Some(20.0));
    assert_eq!(h.explicit_bounds, vec![0.5, 1.0, 2.5, 10.0]);
    assert_eq!(h.bucket_counts, vec![1, 1, 1, 1, 1]);
    assert!(point.exemplars.is_empty());

    let defaults = only(&received, "sample.default.bounds");
    let point = &defaults.points[0];
    let h = point.histogram().unwrap();
    assert_eq!(h.explicit_bounds.len(), 15);
    assert_eq!(h.bucket_counts.len(), 16);
    assert_eq!(h.bucket_counts[2], 1);
    assert_eq!(point.exemplars.len(), 1);
    let exemplar = &point.exemplars[0];
    assert_eq!(exemplar.trace_id, "f807c61443a9d0ba6a4c01d256fb68b7");
    assert_eq!(exemplar.span_id, "3921b6ca8ac344c3");
    assert_eq!(exemplar.value, 7.0);
    assert!(exemplar.time_unix_nano > 0);
    assert!(
        point.attributes.is_empty(),
        "exemplar lines are not attributes"
    );
}

#[test]
fn exponential_histograms_get_scale_and_offsets_from_bounds() {
    let received = parse(GRPC_DELTA);
    let exp = only(&received, "sample.exp");
    assert_eq!(exp.kind, MetricKind::ExponentialHistogram);
    assert_eq!(exp.temporality, Some(Temporality::Delta));
    let h = exp.points[0].exponential_histogram().expect("exponential");
    assert_eq!(h.count, 6);
    assert_eq!(h.sum, Some(11.111));
    assert_eq!((h.min, h.max), (Some(0.0), Some(10.0)));
    assert_eq!(h.zero_count, 1);
    assert_eq!(h.scale, Some(0));
    // 0.001 is in (2^-10, 2^-9]: index -10 at scale 0; 20 buckets up to (512, 1024].
    assert_eq!(h.positive_offset, Some(-10));
    let mut counts = vec![0; 20];
    for index in [-10, -7, -4, -1, 3] {
        counts[(index + 10) as usize] = 1;
    }
    assert_eq!(h.positive_bucket_counts(), counts);
    assert_eq!(h.positive[0].lower, 0.0009765625);
    assert_eq!(h.positive[19].upper, 1024.0);
    // The SDK sends one empty negative bucket at index 0.
    assert_eq!(h.negative_offset, Some(0));
    assert_eq!(h.negative_bucket_counts(), vec![0]);
    assert_eq!((h.negative[0].lower, h.negative[0].upper), (1.0, 2.0));

    let wide = only(&received, "sample.exp.wide");
    let h = wide.points[0].exponential_histogram().unwrap();
    // Buckets 256 times wide: 2^(2^3), scale -3; (256, 65536] is index 1.
    assert_eq!(h.scale, Some(-3));
    assert_eq!(h.positive_offset, Some(1));
    assert_eq!(h.positive_bucket_counts(), vec![1, 1, 1, 0]);
    assert_eq!(h.zero_count, 0);
    assert_eq!(h.sum, Some(1001001000.0));
}

#[test]
fn negative_buckets_are_put_in_index_order() {
    let text = "\
ResourceMetrics #0
ScopeMetrics #0
InstrumentationScope s 
Metric #0
Descriptor:
     -> Name: e
     -> Description: 
     -> Unit: 
     -> DataType: ExponentialHistogram
     -> AggregationTemporality: AGGREGATION_TEMPORALITY_CUMULATIVE
ExponentialHistogramDataPoints #0
StartTimestamp: 1
Timestamp: 2
Count: 9
Bucket [-4.000000000000001, -2.8284271247461907), Count: 3
Bucket [-2.8284271247461907, -2), Count: 2
Bucket [0, 0], Count: 4
";
    let received = parse(text);
    let h = received.metrics[0].points[0]
        .exponential_histogram()
        .unwrap();
    assert_eq!(h.scale, Some(1));
    // (2, 2.83] is index 2 at scale 1: the one nearest zero comes first.
    assert_eq!(h.negative_offset, Some(2));
    assert_eq!(h.negative_bucket_counts(), vec![2, 3]);
    assert_eq!(h.positive_offset, None);
    assert!(h.positive.is_empty());
    assert_eq!(h.zero_count, 4);
    assert_eq!(h.sum, None);
}

#[test]
fn logs_with_severity_body_attributes_and_trace_context() {
    let received = parse(GRPC_DELTA);
    let logs = &received.logs;
    let warn = &logs[0];
    assert_eq!(warn.resource["service.name"], "sample-grpc");
    assert_eq!(warn.scope.name, "kotel.sample.logs");
    assert_eq!(warn.scope.version, "");
    assert_eq!(warn.severity_text, "WARN");
    assert_eq!(warn.severity_number, 13);
    assert_eq!(warn.body, "connection reset by peer: 10.0.0.1:443");
    assert_eq!(warn.body_kind, ValueKind::Str);
    assert!(warn.has_attributes(&[("k8s.pod.name", "web-1"), ("count", "3")]));
    assert_eq!(warn.attributes["ratio"], "0.5");
    assert_eq!(warn.attributes["flag"], "true");
    assert_eq!(warn.attribute_kinds["count"], ValueKind::Int);
    assert_eq!(warn.attribute_kinds["ratio"], ValueKind::Double);
    assert_eq!(warn.attribute_kinds["flag"], ValueKind::Bool);
    assert!(warn.time_unix_nano > 0);
    assert!(warn.observed_time_unix_nano >= warn.time_unix_nano);
    assert_eq!((warn.trace_id.as_str(), warn.span_id.as_str()), ("", ""));
    assert_eq!(warn.flags, 0);

    assert_eq!(logs[1].body, "multi\nline body");
    assert_eq!(logs[1].severity_number, 9);
    assert_eq!(logs[1].attributes["code.line.number"], "96");

    let traced = &logs[2];
    assert_eq!(traced.scope.name, "direct");
    assert_eq!(traced.scope.version, "0.1");
    assert_eq!(traced.severity_text, "");
    assert_eq!(traced.severity_number, 10);
    assert_eq!(traced.body, "Map(k:Str(v), n:Int(1))");
    assert_eq!(traced.body_kind, ValueKind::Map);
    assert_eq!(traced.trace_id, "6460bb28bcc15606ea3b4caf9005acdb");
    assert_eq!(traced.span_id, "47e0a2b952245afb");
    assert_eq!(traced.flags, 3);

    assert_eq!(logs[3].body_kind, ValueKind::Bytes);
    assert_eq!(logs[3].body, "Bytes([0, 1, 98, 121])");
    assert_eq!(logs[3].severity_text, "custom");
    assert_eq!(logs[3].time_unix_nano, 0);

    assert_eq!(logs[4].body, "ends in paren)");
    assert_eq!(logs[4].attributes["multi"], "l1\nl2)");
    assert_eq!(
        (logs[5].body_kind, logs[5].body.as_str()),
        (ValueKind::Empty, "")
    );
}

#[test]
fn empty_resource_scope_attributes_and_number_forms() {
    // From a real rotel: a resource without attributes, a scope with attributes and a
    // schema URL, an int beyond 2^53, and doubles printed in Rust's shortest form.
    let text = "\
ResourceMetrics #0
Resource SchemaURL: https://opentelemetry.io/schemas/1.21.0
ScopeMetrics #0
ScopeMetrics SchemaURL: https://s/1
InstrumentationScope scoped 9
InstrumentationScope attributes:
     -> sa: Str(sv)
     -> si: Int(3)
Metric #0
Descriptor:
     -> Name: c3
     -> Description: 
     -> Unit: 
     -> DataType: Sum
     -> IsMonotonic: true
     -> AggregationTemporality: AGGREGATION_TEMPORALITY_CUMULATIVE
NumberDataPoints #0
StartTimestamp: 1795634770032592048
Timestamp: 1795634770033047960
Value: 9007199254740994
Metric #1
Descriptor:
     -> Name: g3
     -> Description: 
     -> Unit: 
     -> DataType: Gauge
NumberDataPoints #0
Data point attributes:
     -> k: Str(big)
StartTimestamp: 0
Timestamp: 1795634770033047960
Value: 1000000000000000000000000000000000000000000000000000000
NumberDataPoints #1
Data point attributes:
     -> k: Str(small)
StartTimestamp: 0
Timestamp: 1795634770033047960
Value: 0.0000001
NumberDataPoints #2
Data point attributes:
     -> k: Str(negz)
StartTimestamp: 0
Timestamp: 1795634770033047960
Value: -0
";
    let received = parse(text);
    let c3 = &received.metrics[0];
    assert!(c3.resource.is_empty());
    assert_eq!(c3.scope.name, "scoped");
    assert_eq!(c3.scope.version, "9");
    assert_eq!(c3.scope.attributes["si"], "3");
    assert_eq!(c3.unit, "");
    assert_eq!(c3.points[0].value, PointValue::Int(9007199254740994));
    let g3 = &received.metrics[1];
    assert_eq!(g3.point_with(&[("k", "big")]).unwrap().number(), Some(1e54));
    assert_eq!(
        g3.point_with(&[("k", "small")]).unwrap().value,
        PointValue::Double(1e-7)
    );
    assert_eq!(g3.point_with(&[("k", "negz")]).unwrap().number(), Some(0.0));
}

#[test]
fn colour_codes_and_own_log_lines_are_skipped() {
    let text = "\
\u{1b}[2m2026-11-25T19:28:14.729918Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m Starting Rotel.
ResourceLog #0
Resource attributes:
     -> service.name: Str(x)
ScopeLogs #0
InstrumentationScope l 
LogRecord #0
ObservedTimestamp: 5
Timestamp: 4
SeverityText: INFO
SeverityNumber: SEVERITY_NUMBER_INFO(9)
Body: Str(hello)
    Trace ID       : 
    Span ID        : 
Flags: 0
\u{1b}[2m2026-11-25T19:28:16.111247Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m Shutdown signal received.
";
    let received = parse(text);
    assert!(received.metrics.is_empty());
    assert_eq!(received.logs.len(), 1);
    let log = &received.logs[0];
    assert_eq!((log.time_unix_nano, log.observed_time_unix_nano), (4, 5));
    assert_eq!(log.body, "hello");
    assert!(log.attributes.is_empty());
    assert_eq!(log.resource["service.name"], "x");
}

#[test]
fn a_block_cut_short_yields_what_was_printed() {
    let end = GRPC_DELTA
        .find("Buckets #2, Count")
        .expect("a histogram in the sample");
    let received = parse(&GRPC_DELTA[..end]);
    let rtt = only(&received, "sample.rtt");
    assert_eq!(rtt.points[0].histogram().unwrap().bucket_counts, vec![1, 1]);
    assert_eq!(received.metrics.last().unwrap().name, "sample.rtt");
    assert!(received.logs.is_empty());
    assert_eq!(parse(""), Received::default());
}

/// Spans as rotel printed two of kotel's (`testdata/rotel/spans.txt`: a server span and
/// the client span it hangs under, over OTLP/gRPC).
#[test]
fn spans_with_ids_times_status_and_attributes() {
    let received = parse(include_str!("../../testdata/rotel/spans.txt"));
    let [server, client] = &received.spans[..] else {
        panic!("two spans: {:?}", received.spans);
    };
    assert_eq!(
        server.resource.get("service.name").map(String::as_str),
        Some("python3")
    );
    assert_eq!(server.scope.name, "kotel");
    assert_eq!(
        (server.name.as_str(), server.kind.as_str()),
        ("GET /a", "SPAN_KIND_SERVER")
    );
    assert_eq!(server.trace_id, "6d9542770798b81a60bd4c3c32f83750");
    assert_eq!(server.parent_span_id, client.span_id);
    assert_eq!(server.span_id, "b32b2c836599394a");
    assert_eq!(server.status_code, "STATUS_CODE_UNSET");
    assert_eq!(
        (server.start_time_unix_nano, server.end_time_unix_nano),
        (1796654410541883250, 1796654410542915737)
    );
    assert_eq!(
        server.attributes.get("http.route").map(String::as_str),
        Some("/a")
    );
    assert_eq!(
        server.attribute_kinds.get("server.port"),
        Some(&ValueKind::Int)
    );
    assert_eq!(client.kind, "SPAN_KIND_CLIENT");
    assert!(client.parent_span_id.is_empty());
    assert_eq!(
        client.attributes.get("url.full").map(String::as_str),
        Some("http://127.0.0.1:18080/a")
    );
    assert!(received.metrics.is_empty() && received.logs.is_empty());
}
