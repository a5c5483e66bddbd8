//! Rendered manifests as documents: multi-document YAML split and parsed into JSON
//! values, lookups by kind, the kotel container of a pod template, and the environment a
//! container would get.

use std::collections::BTreeMap;

use serde_json::Value;

/// One YAML document: its text and its parsed value.
pub struct Doc {
    pub raw: String,
    pub value: Value,
}

impl Doc {
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }

    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
}

/// Splits `text` at `---` lines (helm's and kubectl's separator; a `---` inside a block
/// scalar is indented, so never a separator) and parses each document; documents that
/// hold only comments are dropped.
pub fn parse_all(text: &str, what: &str) -> Vec<Doc> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut flush = |raw: &mut String| {
        let value: Value = yaml_serde::from_str(raw)
            .unwrap_or_else(|e| panic!("{what}: a document does not parse: {e}\n{raw}"));
        if !value.is_null() {
            docs.push(Doc {
                raw: std::mem::take(raw),
                value,
            });
        }
        raw.clear();
    };
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            flush(&mut current);
        } else {
            current.push_str(line);
        }
    }
    flush(&mut current);
    docs
}

pub fn of_kind<'a>(docs: &'a [Doc], kind: &str) -> Vec<&'a Doc> {
    docs.iter().filter(|d| d.kind() == kind).collect()
}

pub fn one<'a>(docs: &'a [Doc], kind: &str, what: &str) -> &'a Doc {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "{what}: expected exactly one {kind}");
    found[0]
}

/// The container named `name` of a workload's pod template.
pub fn container<'a>(workload: &'a Value, name: &str) -> &'a Value {
    workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no container {name:?} in {}", workload["metadata"]["name"]))
}

/// The string array at `value` (empty when absent).
pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Values the downward API would give, for the fields the manifests use.
pub fn downward(field: &str) -> String {
    match field {
        "spec.nodeName" => "node-1".into(),
        "metadata.name" => "shop-7d9f8c6b5-x2x4q".into(),
        "metadata.namespace" => "shop".into(),
        other => panic!("no test value for the downward API field {other}"),
    }
}

/// The placeholder for a key of a Secret that is not part of the rendering (an existing
/// Secret the user creates).
pub const EXTERNAL_SECRET_VALUE: &str = "Bearer external-secret-token";

/// The environment `container` would get in a pod, with `docs` providing the Secrets the
/// rendering creates: literal values, downward-API fields ([`downward`]), keys of
/// rendered Secrets (decoded), and [`EXTERNAL_SECRET_VALUE`] for other Secrets.
pub fn pod_env(container: &Value, docs: &[Doc]) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for var in container["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().expect("env name").to_string();
        let value = if let Some(v) = var["value"].as_str() {
            v.to_string()
        } else if let Some(field) = var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            downward(field)
        } else if let Some(secret) = var["valueFrom"]["secretKeyRef"].as_object() {
            let (secret, key) = (
                secret["name"].as_str().unwrap(),
                secret["key"].as_str().unwrap(),
            );
            of_kind(docs, "Secret")
                .into_iter()
                .find(|d| d.name() == secret)
                .map(|d| secret_value(&d.value, key))
                .unwrap_or_else(|| EXTERNAL_SECRET_VALUE.to_string())
        } else {
            panic!("env var {name} has a source the test does not know: {var}");
        };
        env.insert(name, value);
    }
    env
}

/// The decoded value of `key` in a Secret document (`data` is base64, `stringData` plain).
pub fn secret_value(secret: &Value, key: &str) -> String {
    if let Some(plain) = secret["stringData"][key].as_str() {
        return plain.to_string();
    }
    let encoded = secret["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("Secret {} has no key {key}", secret["metadata"]["name"]));
    String::from_utf8(base64_decode(encoded)).expect("UTF-8 secret")
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET
            .iter()
            .position(|a| *a == c)
            .unwrap_or_else(|| panic!("not base64: {text}")) as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xff) as u8);
        }
    }
    out
}

/// True when every label of `selector` is in `labels`.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels[k] == *v))
}
