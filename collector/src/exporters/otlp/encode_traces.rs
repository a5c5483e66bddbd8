//! HTTP exchanges -> OTLP spans, following the stable HTTP semantic conventions: one
//! SERVER or CLIENT span per request, named `{method} {route}` (`{method}` for a client),
//! grouped under one resource per workload.
//!
//! The resource of a workload's spans is the agent's resource with the workload's
//! attributes (pod, namespace, container, image) and a `service.name` of its own: the
//! container's name, else the process's task name (a process outside any container),
//! with `service.namespace` the pod's namespace.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use crate::event::{keys, HttpEvent, HttpSide};
use crate::exporters::otlp::resource::scope;

/// The request carrying the spans of `events`; `None` when there is none.
pub fn traces_request(
    resource: &Resource,
    events: &[&HttpEvent],
) -> Option<ExportTraceServiceRequest> {
    let mut by_service: BTreeMap<Vec<(String, String)>, Vec<Span>> = BTreeMap::new();
    for e in events {
        by_service
            .entry(service_attributes(e))
            .or_default()
            .push(span(e));
    }
    (!by_service.is_empty()).then(|| ExportTraceServiceRequest {
        resource_spans: by_service
            .into_iter()
            .map(|(attributes, spans)| ResourceSpans {
                resource: Some(with(resource, attributes)),
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

/// The resource attributes that set `e`'s workload apart.
fn service_attributes(e: &HttpEvent) -> Vec<(String, String)> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let workload = e.workload.as_deref();
    if let Some(w) = workload {
        out.extend(w.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let container = workload.and_then(|w| w.get(keys::CONTAINER_NAME));
    let service = container.unwrap_or(&e.comm);
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

/// Bytes of a hex id (empty for an empty or malformed one).
fn id_bytes(hex: &str) -> Vec<u8> {
    let digits: Option<Vec<u8>> = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect();
    digits
        .filter(|d| d.len() * 2 == hex.len())
        .unwrap_or_default()
}

/// The span of one exchange.
pub fn span(e: &HttpEvent) -> Span {
    let server = e.side == HttpSide::Server;
    let mut attributes = vec![
        text("http.request.method", &e.method),
        text("network.protocol.name", "http"),
        text("network.protocol.version", &e.version),
        text("network.peer.address", &e.peer_address),
        int("network.peer.port", e.peer_port),
        text("network.transport", "tcp"),
        int("process.pid", e.pid),
        text("process.executable.name", &e.comm),
    ];
    if e.status > 0 {
        attributes.push(int("http.response.status_code", e.status));
    }
    let (server_address, server_port) = if server {
        (host_or(&e.host, &e.local_address), e.local_port)
    } else {
        (host_or(&e.host, &e.peer_address), e.peer_port)
    };
    attributes.push(text("server.address", server_address));
    attributes.push(int("server.port", server_port));
    if server {
        attributes.push(text("url.path", &e.path));
        attributes.push(text("url.scheme", "http"));
        attributes.push(text("client.address", &e.peer_address));
        attributes.push(int("client.port", e.peer_port));
        if !e.route.is_empty() {
            attributes.push(text("http.route", &e.route));
        }
    } else {
        attributes.push(text(
            "url.full",
            &format!(
                "http://{}:{}{}",
                bracketed(server_address),
                server_port,
                e.path
            ),
        ));
    }
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
        e.method.clone()
    };
    Span {
        trace_id: id_bytes(&e.trace_id),
        span_id: id_bytes(&e.span_id),
        parent_span_id: id_bytes(&e.parent_span_id),
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

fn host_or<'a>(host: &'a str, address: &'a str) -> &'a str {
    if host.is_empty() {
        address
    } else {
        host
    }
}

/// An IPv6 address in brackets for a URL.
fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
#[path = "encode_traces_tests.rs"]
mod tests;
