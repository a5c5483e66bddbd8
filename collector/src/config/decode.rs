//! Turning one YAML value into one typed setting, with serde's message and the path to the
//! offending field.

use serde::de::DeserializeOwned;

use yaml_serde::value::{Tag, TaggedValue};
use yaml_serde::{Mapping, Value};

use crate::settings::ConfigError;

/// Deserializes `value` as `T`. With `tag`, `T` is an enum and `value` is the content of its
/// variant `tag` (yaml_serde reads enums from YAML tags, as in `!tcp {...}`). A null value
/// reads as an empty mapping, so `tcp:` with nothing after it means all defaults.
///
/// The value is written back to YAML text and read again by yaml_serde's text
/// deserializer because that one, unlike `from_value`, reports the path to the field. Its
/// positions refer to that text, not the user's file, so they are dropped.
pub(crate) fn decode<T: DeserializeOwned>(
    value: &Value,
    tag: Option<&str>,
) -> Result<T, ConfigError> {
    let content = match value {
        Value::Null => Value::Mapping(Mapping::new()),
        other => other.clone(),
    };
    let document = match tag {
        Some(tag) => Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value: content.clone(),
        })),
        None => content.clone(),
    };
    let text = yaml_serde::to_string(&document).map_err(|e| ConfigError {
        path: String::new(),
        message: e.to_string(),
    })?;
    yaml_serde::from_str(&text).map_err(|error| {
        let mut message = error.to_string();
        if let Some(at) = error.location() {
            let suffix = format!(" at line {} column {}", at.line(), at.column());
            if let Some(stripped) = message.strip_suffix(&suffix) {
                message = stripped.to_string();
            }
        }
        split_path(&message, &content)
    })
}

/// Splits yaml_serde's `a.b[0]: message` into path and message. The prefix counts as a path
/// only when it leads to a node of `root`: a message may contain `: ` itself
/// (`invalid type: map, ...`).
fn split_path(message: &str, root: &Value) -> ConfigError {
    if let Some((head, tail)) = message.split_once(": ") {
        if let Some(path) = resolve(root, head) {
            return ConfigError {
                path,
                message: tail.to_string(),
            };
        }
    }
    ConfigError {
        path: String::new(),
        message: message.to_string(),
    }
}

/// Follows yaml_serde's path form (`a.b[0].c`, where keys may hold dots) through `value`;
/// returns it in `a::b[0]::c` form when every step exists.
fn resolve(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Tagged(tagged) => resolve(&tagged.value, path),
        Value::Mapping(map) => map.iter().find_map(|(key, child)| {
            let key = key.as_str()?;
            let rest = path.strip_prefix(key)?;
            if rest.is_empty() {
                Some(key.to_string())
            } else if let Some(rest) = rest.strip_prefix('.') {
                resolve(child, rest).map(|p| format!("{key}::{p}"))
            } else if rest.starts_with('[') {
                resolve(child, rest).map(|p| format!("{key}{p}"))
            } else {
                None
            }
        }),
        Value::Sequence(items) => {
            let (index, rest) = path.strip_prefix('[')?.split_once(']')?;
            let child = items.get(index.parse::<usize>().ok()?)?;
            if rest.is_empty() {
                Some(format!("[{index}]"))
            } else if let Some(rest) = rest.strip_prefix('.') {
                resolve(child, rest).map(|p| format!("[{index}]::{p}"))
            } else if rest.starts_with('[') {
                resolve(child, rest).map(|p| format!("[{index}]{p}"))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// How a value reads in a message: `a string`, `a list`, ...
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
