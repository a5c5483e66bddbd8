//! HTTP exchanges -> OTLP spans, following the stable HTTP semantic conventions: one
//! SERVER or CLIENT span per request, named `{method} {route}` (`{method}` for a client),
//! grouped under one resource per workload. The request is encoded straight into its
//! protobuf bytes ([`wire`]): spans are the exporter's largest and most numerous
//! messages, and building `prost` structs for them cost an allocation per attribute.
//!
//! The resource of a workload's spans is the agent's resource with the workload's
//! attributes (pod, namespace, container, image) and a `service.name` of its own: the
//! container's name, else the process's task name (a process outside any container),
//! with `service.namespace` the pod's namespace.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;

use crate::event::{keys, HttpEvent, HttpSide};
use crate::exporters::otlp::resource::scope;
use crate::exporters::otlp::wire::{self, Encoded};

/// Field numbers of `opentelemetry/proto/{collector/,}trace/v1` messages.
mod field {
    /// `ExportTraceServiceRequest.resource_spans`.
    pub const RESOURCE_SPANS: u32 = 1;
    /// `ResourceSpans.resource`.
    pub const RESOURCE: u32 = 1;
    /// `ResourceSpans.scope_spans`.
    pub const SCOPE_SPANS: u32 = 2;
    /// `ScopeSpans.scope`.
    pub const SCOPE: u32 = 1;
    /// `ScopeSpans.spans`.
    pub const SPANS: u32 = 2;
    /// `Span` fields.
    pub const TRACE_ID: u32 = 1;
    pub const SPAN_ID: u32 = 2;
    pub const PARENT_SPAN_ID: u32 = 4;
    pub const NAME: u32 = 5;
    pub const KIND: u32 = 6;
    pub const START_TIME: u32 = 7;
    pub const END_TIME: u32 = 8;
    pub const ATTRIBUTES: u32 = 9;
    pub const STATUS: u32 = 15;
    /// `Status` fields.
    pub const STATUS_MESSAGE: u32 = 2;
    pub const STATUS_CODE: u32 = 3;
}

/// The encoded `ExportTraceServiceRequest` carrying the spans of `events`; `None` when
/// there is none. Spans are grouped per service (one resource each), in the order
/// services first appear.
pub fn traces_request(resource: &Resource, events: &[&HttpEvent]) -> Option<Encoded> {
    // The workload (by identity: `k8s_cri` shares one per container) and, outside any
    // container, the task name set a span's service apart.
    let mut group_of: HashMap<(usize, &str), usize> = HashMap::new();
    let mut groups: Vec<(&HttpEvent, Vec<u8>)> = Vec::new();
    let mut writer = SpanWriter::default();
    for e in events {
        let workload = e.workload.as_ref().map_or(0, |w| Arc::as_ptr(w) as usize);
        let named = container_name(e).is_some();
        let key = (workload, if named { "" } else { &*e.comm });
        let at = *group_of.entry(key).or_insert_with(|| {
            groups.push((e, Vec::new()));
            groups.len() - 1
        });
        writer.append(&mut groups[at].1, e);
    }
    if groups.is_empty() {
        return None;
    }
    let scope = scope().encode_to_vec();
    let size: usize = groups.iter().map(|(_, spans)| spans.len() + 64).sum();
    let mut request = Vec::with_capacity(size + groups.len() * 512);
    for (first, spans) in groups {
        // ResourceSpans { resource, scope_spans: ScopeSpans { scope, spans } }, its
        // lengths worked out so that the spans are copied once, here.
        let service = with(resource, service_attributes(first)).encode_to_vec();
        let scope_spans = wire::message_len(field::SCOPE, scope.len()) + spans.len();
        let resource_spans = wire::message_len(field::RESOURCE, service.len())
            + wire::message_len(field::SCOPE_SPANS, scope_spans);
        wire::message_head(&mut request, field::RESOURCE_SPANS, resource_spans);
        wire::message(&mut request, field::RESOURCE, &service);
        wire::message_head(&mut request, field::SCOPE_SPANS, scope_spans);
        wire::message(&mut request, field::SCOPE, &scope);
        request.extend_from_slice(&spans);
    }
    Some(Encoded(Bytes::from(request)))
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

/// Scratch space for encoding spans, reused from one span to the next.
#[derive(Default)]
struct SpanWriter {
    span: Vec<u8>,
    status: Vec<u8>,
    peer: String,
    /// The address `peer` holds as text.
    peer_address: Option<IpAddr>,
    server: String,
    text: String,
}

impl SpanWriter {
    /// Appends the span of one exchange to `spans` (as a `ScopeSpans.spans` field),
    /// following the stable HTTP semantic conventions.
    fn append(&mut self, spans: &mut Vec<u8>, e: &HttpEvent) {
        let server = e.side == HttpSide::Server;
        let b = &mut self.span;
        b.clear();
        wire::data(b, field::TRACE_ID, e.trace_id.as_bytes());
        wire::data(b, field::SPAN_ID, e.span_id.as_bytes());
        if let Some(parent) = &e.parent_span_id {
            wire::data(b, field::PARENT_SPAN_ID, parent.as_bytes());
        }
        if server && !e.route.is_empty() {
            wire::joined(b, field::NAME, &[e.method.as_str(), " ", &e.route]);
        } else {
            wire::joined(b, field::NAME, &[e.method.as_str()]);
        }
        let kind = if server {
            SpanKind::Server
        } else {
            SpanKind::Client
        };
        wire::uint(b, field::KIND, kind as u64);
        wire::fixed64(b, field::START_TIME, e.start_time_unix_nano);
        wire::fixed64(b, field::END_TIME, e.end_time_unix_nano);

        let text = |b: &mut Vec<u8>, name: &str, value: &str| {
            wire::string_attribute(b, field::ATTRIBUTES, name, value);
        };
        let int = |b: &mut Vec<u8>, name: &str, value: i64| {
            wire::int_attribute(b, field::ATTRIBUTES, name, value);
        };
        // Spans of one connection follow one another: its peer is written out once.
        if self.peer_address != Some(e.peer_address) {
            set(&mut self.peer, e.peer_address);
            self.peer_address = Some(e.peer_address);
        }
        text(b, "http.request.method", &e.method);
        text(b, "network.protocol.name", "http");
        text(b, "network.protocol.version", e.version.as_str());
        text(b, "network.peer.address", &self.peer);
        int(b, "network.peer.port", i64::from(e.peer_port));
        text(b, "network.transport", "tcp");
        int(b, "process.pid", i64::from(e.pid));
        text(b, "process.executable.name", &e.comm);
        if e.status > 0 {
            int(b, "http.response.status_code", i64::from(e.status));
        }
        // A server is the port its `Host` names, else the one it was reached on.
        let server_port = match (server, e.host_port) {
            (true, Some(port)) if !e.host.is_empty() => port,
            (true, _) => e.local_port,
            (false, _) => e.peer_port,
        };
        match (e.host.is_empty(), server) {
            (false, _) => set(&mut self.server, &e.host),
            (true, true) => set(&mut self.server, e.local_address),
            (true, false) => set(&mut self.server, &self.peer),
        }
        text(b, "server.address", &self.server);
        int(b, "server.port", i64::from(server_port));
        if server {
            text(b, "url.path", &e.path);
            text(b, "url.scheme", "http");
            text(b, "client.address", &self.peer);
            int(b, "client.port", i64::from(e.peer_port));
            if !e.route.is_empty() {
                text(b, "http.route", &e.route);
            }
        } else {
            self.text.clear();
            let host = &self.server;
            let _ = if host.contains(':') {
                write!(self.text, "http://[{host}]:{server_port}{}", e.path)
            } else {
                write!(self.text, "http://{host}:{server_port}{}", e.path)
            };
            text(b, "url.full", &self.text);
        }
        if let Some(n) = e.request_body_bytes {
            int(b, "http.request.body.size", n as i64);
        }
        if let Some(n) = e.response_body_bytes {
            int(b, "http.response.body.size", n as i64);
        }
        // The conventions leave the description empty where the status code says it all.
        self.status.clear();
        if let Some(error) = e.error_type() {
            set(&mut self.text, error);
            text(b, "error.type", &self.text);
            let message = e.failure.map_or("", |f| f.as_str());
            wire::data(&mut self.status, field::STATUS_MESSAGE, message.as_bytes());
            wire::uint(
                &mut self.status,
                field::STATUS_CODE,
                StatusCode::Error as u64,
            );
        }
        wire::message(b, field::STATUS, &self.status);
        wire::message(spans, field::SPANS, b);
    }
}

/// `to` holding `value` as text (its allocation kept).
fn set(to: &mut String, value: impl std::fmt::Display) {
    to.clear();
    let _ = write!(to, "{value}");
}

#[cfg(test)]
#[path = "encode_traces_tests.rs"]
mod tests;
