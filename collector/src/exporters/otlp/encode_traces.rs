//! HTTP exchanges -> OTLP spans, following the stable HTTP semantic conventions: one
//! SERVER or CLIENT span per request, named `{method} {route}` (`{method}` for a client),
//! grouped under one resource per workload.
//!
//! The resource of a workload's spans is the agent's resource with the workload's
//! attributes (pod, namespace, container, image) and a `service.name` of its own: the
//! container's name, else the process's task name (a process outside any container),
//! with `service.namespace` the pod's namespace.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use crate::event::{keys, HttpEvent, HttpSide};
use crate::exporters::otlp::resource::scope;

/// The request carrying the spans of `events`; `None` when there is none. Spans are
/// grouped per service (one resource each), in the order services first appear.
pub fn traces_request(
    resource: &Resource,
    events: &[&HttpEvent],
) -> Option<ExportTraceServiceRequest> {
    // The workload (by identity: `k8s_cri` shares one per container) and, outside any
    // container, the task name set a span's service apart.
    let mut group_of: HashMap<(usize, &str), usize> = HashMap::new();
    let mut groups: Vec<(&HttpEvent, Vec<Span>)> = Vec::new();
    for e in events {
        let workload = e.workload.as_ref().map_or(0, |w| Arc::as_ptr(w) as usize);
        let named = container_name(e).is_some();
        let key = (workload, if named { "" } else { &*e.comm });
        let at = *group_of.entry(key).or_insert_with(|| {
            groups.push((e, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(span(e));
    }
    (!groups.is_empty()).then(|| ExportTraceServiceRequest {
        resource_spans: groups
            .into_iter()
            .map(|(first, spans)| ResourceSpans {
                resource: Some(with(resource, service_attributes(first))),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope()),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect(),
    })
}

fn container_name(e: &HttpEvent) -> Option<&str> {
    e.workload.as_deref()?.get(keys::CONTAINER_NAME)
}

/// The resource attributes that set `e`'s workload apart.
fn service_attributes(e: &HttpEvent) -> Vec<(String, String)> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let workload = e.workload.as_deref();
    if let Some(w) = workload {
        out.extend(w.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let service = container_name(e).unwrap_or(&e.comm);
    out.insert("service.name".into(), service.to_string());
    if let Some(ns) = workload.and_then(|w| w.get(keys::NAMESPACE)) {
        out.insert("service.namespace".into(), ns.to_string());
    }
    out.into_iter().collect()
}

/// `base` with `attributes` set (replacing those of the same key).
fn with(base: &Resource, attributes: Vec<(String, String)>) -> Resource {
    let mut resource = base.clone();
    resource
        .attributes
        .retain(|kv| !attributes.iter().any(|(k, _)| *k == kv.key));
    resource.attributes.extend(
        attributes
            .into_iter()
            .map(|(k, v)| kv(&k, Value::StringValue(v))),
    );
    resource
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, Value::StringValue(value.to_string()))
}

fn int(key: &str, value: impl Into<i64>) -> KeyValue {
    kv(key, Value::IntValue(value.into()))
}

/// The span of one exchange.
pub fn span(e: &HttpEvent) -> Span {
    let server = e.side == HttpSide::Server;
    let peer = e.peer_address.to_string();
    let mut attributes = Vec::with_capacity(20);
    attributes.extend([
        text("http.request.method", e.method.as_str()),
        text("network.protocol.name", "http"),
        text("network.protocol.version", e.version.as_str()),
        int("network.peer.port", e.peer_port),
        text("network.transport", "tcp"),
        int("process.pid", e.pid),
        text("process.executable.name", &e.comm),
    ]);
    if e.status > 0 {
        attributes.push(int("http.response.status_code", e.status));
    }
    let (server_address, server_port) = match (server, e.host.is_empty()) {
        (_, false) => (
            e.host.clone(),
            if server { e.local_port } else { e.peer_port },
        ),
        (true, true) => (e.local_address.to_string(), e.local_port),
        (false, true) => (peer.clone(), e.peer_port),
    };
    if server {
        attributes.push(text("url.path", &e.path));
        attributes.push(text("url.scheme", "http"));
        attributes.push(text("client.address", &peer));
        attributes.push(int("client.port", e.peer_port));
        if !e.route.is_empty() {
            attributes.push(text("http.route", &e.route));
        }
    } else {
        let host = bracketed(&server_address);
        let url = format!("http://{host}:{server_port}{}", e.path);
        attributes.push(kv("url.full", Value::StringValue(url)));
    }
    attributes.push(kv("network.peer.address", Value::StringValue(peer)));
    attributes.push(kv("server.address", Value::StringValue(server_address)));
    attributes.push(int("server.port", server_port));
    if let Some(n) = e.request_body_bytes {
        attributes.push(int("http.request.body.size", n as i64));
    }
    if let Some(n) = e.response_body_bytes {
        attributes.push(int("http.response.body.size", n as i64));
    }
    let error = e.error_type();
    if let Some(t) = &error {
        attributes.push(text("error.type", t));
    }
    let name = if server && !e.route.is_empty() {
        format!("{} {}", e.method, e.route)
    } else {
        e.method.to_string()
    };
    Span {
        trace_id: e.trace_id.as_bytes().to_vec(),
        span_id: e.span_id.as_bytes().to_vec(),
        parent_span_id: e
            .parent_span_id
            .map_or_else(Vec::new, |id| id.as_bytes().to_vec()),
        name,
        kind: if server {
            SpanKind::Server
        } else {
            SpanKind::Client
        } as i32,
        start_time_unix_nano: e.start_time_unix_nano,
        end_time_unix_nano: e.end_time_unix_nano,
        attributes,
        // The conventions leave the description empty where the status code says it all.
        status: Some(match error {
            Some(_) => Status {
                code: StatusCode::Error as i32,
                message: e
                    .failure
                    .map(|f| f.as_str().to_string())
                    .unwrap_or_default(),
            },
            None => Status::default(),
        }),
        ..Default::default()
    }
}

/// An IPv6 address in brackets for a URL.
fn bracketed(host: &str) -> std::borrow::Cow<'_, str> {
    if host.contains(':') {
        format!("[{host}]").into()
    } else {
        host.into()
    }
}
#[cfg(test)]
#[path = "encode_traces_tests.rs"]
mod tests;
