//! The OTLP resource every export carries (`service.name`, `service.version`,
//! `host.name`, `k8s.node.name`, configured extras) and the instrumentation scope.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// `service.name`.
pub const SERVICE_NAME: &str = "kotel";

/// The resource: the agent's identity, the node, then `extra` (which may override).
pub fn resource(node_name: &str, extra: &BTreeMap<String, String>) -> Resource {
    let host = crate::settings::node::host_name();
    let mut attributes: BTreeMap<&str, &str> = BTreeMap::from([
        ("service.name", SERVICE_NAME),
        ("service.version", env!("CARGO_PKG_VERSION")),
        ("host.name", host.as_str()),
    ]);
    if !node_name.is_empty() {
        attributes.insert("k8s.node.name", node_name);
    }
    for (k, v) in extra {
        attributes.insert(k, v);
    }
    Resource {
        attributes: key_values(attributes.into_iter().filter(|(_, v)| !v.is_empty())),
        ..Default::default()
    }
}

/// The instrumentation scope of everything kotel sends.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SERVICE_NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

/// String key-values.
pub fn key_values<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<KeyValue> {
    pairs
        .into_iter()
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: Some(string(v)),
            ..Default::default()
        })
        .collect()
}

/// A string value.
pub fn string(v: &str) -> AnyValue {
    AnyValue {
        value: Some(Value::StringValue(v.to_string())),
    }
}
