use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};

use super::*;
use crate::event::{HttpFailure, HttpMethod, HttpVersion, Workload};

fn exchange(side: HttpSide, status: u16) -> HttpEvent {
    HttpEvent {
        side,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 5_000,
        pid: 7,
        comm: "python3".into(),
        cgroup_id: 1,
        method: HttpMethod::new("GET"),
        path: "/users/42".into(),
        route: "/users/{id}".into(),
        version: HttpVersion::Http11,
        status,
        host: "api".into(),
        host_port: None,
        local_address: "10.0.0.1".parse().unwrap(),
        local_port: 8080,
        peer_address: "10.0.0.2".parse().unwrap(),
        peer_port: 40000,
        request_body_bytes: None,
        response_body_bytes: Some(5),
        trace_id: "0af7651916cd43dd8448eb211c80319c".parse().unwrap(),
        span_id: "b7ad6b7169203331".parse().unwrap(),
        parent_span_id: None,
        sampled: None,
        failure: None,
        workload: None,
    }
}

/// The request, decoded by the official message types.
fn decoded(resource: &Resource, events: &[&HttpEvent]) -> Option<ExportTraceServiceRequest> {
    let encoded = traces_request(resource, events)?;
    Some(ExportTraceServiceRequest::decode(encoded.0).expect("a valid request"))
}

/// The span of one exchange, as a backend decodes it.
fn span(e: &HttpEvent) -> Span {
    let request = decoded(&Resource::default(), &[e]).unwrap();
    request.resource_spans[0].scope_spans[0].spans[0].clone()
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

#[test]
fn a_server_span_follows_the_http_conventions() {
    let s = span(&exchange(HttpSide::Server, 200));
    assert_eq!(
        (s.name.as_str(), s.kind),
        ("GET /users/{id}", SpanKind::Server as i32)
    );
    assert_eq!(
        s.trace_id,
        [
            0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80,
            0x31, 0x9c
        ]
    );
    assert_eq!((s.span_id.len(), s.parent_span_id.len()), (8, 0));
    assert_eq!(
        (s.start_time_unix_nano, s.end_time_unix_nano),
        (1_000, 5_000)
    );
    let get = |k| attribute(&s, k).cloned();
    assert_eq!(
        get("http.request.method"),
        Some(Value::StringValue("GET".into()))
    );
    assert_eq!(
        get("url.path"),
        Some(Value::StringValue("/users/42".into()))
    );
    assert_eq!(
        get("http.route"),
        Some(Value::StringValue("/users/{id}".into()))
    );
    assert_eq!(get("http.response.status_code"), Some(Value::IntValue(200)));
    assert_eq!(
        get("server.address"),
        Some(Value::StringValue("api".into()))
    );
    assert_eq!(get("server.port"), Some(Value::IntValue(8080)));
    assert_eq!(
        get("client.address"),
        Some(Value::StringValue("10.0.0.2".into()))
    );
    assert_eq!(
        get("network.protocol.version"),
        Some(Value::StringValue("1.1".into()))
    );
    assert_eq!(get("http.response.body.size"), Some(Value::IntValue(5)));
    assert_eq!(get("error.type"), None);
    assert_eq!(s.status.as_ref().unwrap().code, StatusCode::Unset as i32);
    // A 4xx is not a server error, a 5xx is.
    let s = span(&exchange(HttpSide::Server, 404));
    assert_eq!(s.status.as_ref().unwrap().code, StatusCode::Unset as i32);
    let s = span(&exchange(HttpSide::Server, 503));
    assert_eq!(s.status.as_ref().unwrap().code, StatusCode::Error as i32);
    assert_eq!(
        attribute(&s, "error.type").cloned(),
        Some(Value::StringValue("503".into()))
    );
}

#[test]
fn a_client_span_names_the_server_and_marks_4xx_and_no_response_as_errors() {
    let s = span(&exchange(HttpSide::Client, 404));
    assert_eq!((s.name.as_str(), s.kind), ("GET", SpanKind::Client as i32));
    assert_eq!(
        attribute(&s, "url.full").cloned(),
        Some(Value::StringValue("http://api:40000/users/42".into()))
    );
    assert_eq!(s.status.as_ref().unwrap().code, StatusCode::Error as i32);
    let mut e = exchange(HttpSide::Client, 0);
    e.failure = Some(HttpFailure::Timeout);
    let s = span(&e);
    assert_eq!(
        attribute(&s, "error.type").cloned(),
        Some(Value::StringValue("timeout".into()))
    );
    assert_eq!(attribute(&s, "http.response.status_code"), None);
    assert_eq!(s.status.as_ref().unwrap().message, "timeout");
}

#[test]
fn spans_are_grouped_under_their_workloads_service() {
    let resource = crate::exporters::otlp::resource::resource("node-1", &Default::default());
    let mut in_pod = exchange(HttpSide::Server, 200);
    in_pod.workload = Some(Arc::new(Workload::from_pairs([
        (keys::NAMESPACE, "shop"),
        (keys::POD_NAME, "cart-7d9"),
        (keys::CONTAINER_NAME, "cart"),
    ])));
    let on_host = exchange(HttpSide::Client, 200);
    let request = decoded(&resource, &[&in_pod, &on_host, &in_pod]).unwrap();
    assert_eq!(request.resource_spans.len(), 2);
    let service = |rs: &ResourceSpans| {
        let attrs = &rs.resource.as_ref().unwrap().attributes;
        let get = |k: &str| {
            attrs.iter().find(|kv| kv.key == k).and_then(|kv| {
                match kv.value.as_ref()?.value.as_ref()? {
                    Value::StringValue(s) => Some(s.clone()),
                    _ => None,
                }
            })
        };
        (
            get("service.name"),
            get("service.namespace"),
            get("k8s.node.name"),
            rs.scope_spans[0].spans.len(),
        )
    };
    let mut got: Vec<_> = request.resource_spans.iter().map(service).collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                Some("cart".into()),
                Some("shop".into()),
                Some("node-1".into()),
                2
            ),
            (Some("python3".into()), None, Some("node-1".into()), 1),
        ]
    );
    assert!(traces_request(&resource, &[]).is_none());
}

#[test]
fn a_child_span_names_its_parent_and_an_ipv6_server_is_bracketed_in_its_url() {
    let mut e = exchange(HttpSide::Client, 503);
    e.host = String::new();
    e.peer_address = "fd00::7".parse().unwrap();
    e.parent_span_id = Some("00f067aa0ba902b7".parse().unwrap());
    let s = span(&e);
    assert_eq!(
        s.parent_span_id,
        [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
    );
    assert_eq!(
        attribute(&s, "url.full").cloned(),
        Some(Value::StringValue("http://[fd00::7]:40000/users/42".into()))
    );
    assert_eq!(
        attribute(&s, "server.address").cloned(),
        Some(Value::StringValue("fd00::7".into()))
    );
    assert_eq!(
        attribute(&s, "error.type").cloned(),
        Some(Value::StringValue("503".into()))
    );
    let status = s.status.unwrap();
    assert_eq!(
        (status.code, status.message.as_str()),
        (StatusCode::Error as i32, "")
    );
    // A span without error has an empty (unset) status.
    let ok = span(&exchange(HttpSide::Server, 200)).status.unwrap();
    assert_eq!((ok.code, ok.message.as_str()), (0, ""));
}

#[test]
fn a_server_is_the_port_its_host_header_names() {
    let mut e = exchange(HttpSide::Server, 200);
    e.host_port = Some(8443);
    assert_eq!(
        attribute(&span(&e), "server.port").cloned(),
        Some(Value::IntValue(8443))
    );
    // Without a `Host`, the port is the socket's.
    e.host = String::new();
    assert_eq!(
        attribute(&span(&e), "server.port").cloned(),
        Some(Value::IntValue(8080))
    );
}
