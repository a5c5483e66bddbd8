use serde::Deserialize;

use super::*;

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Rule {
    name: String,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Inner {
    count: u32,
    rules: Vec<Rule>,
    #[serde(rename = "a.b")]
    dotted: Vec<u8>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Thing(Inner),
}

fn value(text: &str) -> Value {
    yaml_serde::from_str(text).unwrap()
}

fn error(text: &str) -> ConfigError {
    decode::<Kind>(&value(text), Some("thing")).unwrap_err()
}

#[test]
fn null_means_defaults() {
    assert_eq!(
        decode::<Kind>(&Value::Null, Some("thing")).unwrap(),
        Kind::Thing(Inner::default())
    );
}

#[test]
fn field_paths_are_kept_and_positions_dropped() {
    let e = error("count: lots");
    assert_eq!(e.path, "count");
    assert_eq!(e.message, "invalid type: string \"lots\", expected u32");
    let e = error("rules: [{name: a}, {nme: b}]");
    assert_eq!(e.path, "rules[1]");
    assert!(e.message.starts_with("unknown field `nme`"), "{e:?}");
    let e = error("rules: [{name: [x]}]");
    assert_eq!(e.path, "rules[0]::name");
    let e = error("a.b: [1, x]");
    assert_eq!(e.path, "a.b[1]");
}

#[test]
fn message_with_colon_at_root_is_not_taken_for_a_path() {
    let e = error("[1, 2]");
    assert_eq!(e.path, "");
    assert!(e.message.starts_with("invalid type: sequence"), "{e:?}");
    let e = error("{colour: red}");
    assert_eq!(e.path, "");
    assert!(
        e.message
            .starts_with("unknown field `colour`, expected one of"),
        "{e:?}"
    );
}
