use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "HOST" => Some("collector.local".into()),
        "PORT" => Some("4317".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn sub(text: &str) -> Result<String, Vec<String>> {
    substitute(text, &env).map_err(|e| e.into_iter().map(|e| e.to_string()).collect())
}

#[test]
fn set_variable_is_replaced() {
    assert_eq!(
        sub("endpoint: ${env:HOST}\n").unwrap(),
        "endpoint: collector.local\n"
    );
}

#[test]
fn an_empty_whole_value_is_the_empty_string_not_null() {
    assert_eq!(sub("node: ${env:EMPTY}\n").unwrap(), "node: \"\"\n");
    assert_eq!(
        sub("node: ${env:UNSET:-} # c\n").unwrap(),
        "node: \"\" # c\n"
    );
    assert_eq!(
        sub("k: { a: ${env:EMPTY}, b: 1 }").unwrap(),
        "k: { a: \"\", b: 1 }"
    );
    assert_eq!(sub("- ${env:EMPTY}\n").unwrap(), "- \"\"\n");
    // Part of a longer scalar, or quoted: just nothing.
    assert_eq!(
        sub("url: http://${env:EMPTY}x\n").unwrap(),
        "url: http://x\n"
    );
    assert_eq!(sub("q: \"${env:EMPTY}\"\n").unwrap(), "q: \"\"\n");
}

#[test]
fn set_variable_wins_over_default() {
    assert_eq!(sub("a: ${env:HOST:-other}").unwrap(), "a: collector.local");
}

#[test]
fn set_but_empty_variable_stays_empty() {
    assert_eq!(sub("a: '${env:EMPTY:-d}'").unwrap(), "a: ''");
}

#[test]
fn unset_variable_takes_default() {
    assert_eq!(
        sub("a: ${env:NOPE:-http://127.0.0.1:4317}").unwrap(),
        "a: http://127.0.0.1:4317"
    );
}

#[test]
fn empty_default_gives_empty_text() {
    assert_eq!(sub("a: \"${env:NOPE:-}\"").unwrap(), "a: \"\"");
}

#[test]
fn unset_without_default_is_an_error_per_reference_with_line() {
    let errors = sub("a: 1\nb: ${env:NOPE}\nc: ${env:ALSO_NOPE} ${env:NOPE}\n").unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("line 2: environment variable NOPE is not set"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("line 3: environment variable ALSO_NOPE is not set"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("line 3: environment variable NOPE is not set"),
        "{errors:?}"
    );
}

#[test]
fn double_dollar_is_a_literal_dollar() {
    assert_eq!(
        sub("a: $$HOME $${env:HOST} $$$$").unwrap(),
        "a: $HOME ${env:HOST} $$"
    );
}

#[test]
fn lone_dollar_is_kept() {
    assert_eq!(sub("a: $HOME $ 5$").unwrap(), "a: $HOME $ 5$");
}

#[test]
fn several_references_on_one_line() {
    assert_eq!(
        sub("url: http://${env:HOST}:${env:PORT}/${env:NOPE:-v1}").unwrap(),
        "url: http://collector.local:4317/v1"
    );
}

#[test]
fn nested_references_are_an_error() {
    let errors = sub("a: ${env:NOPE:-${env:HOST}}").unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("nested references"), "{errors:?}");
    assert!(errors[0].starts_with("line 1: "), "{errors:?}");
}

#[test]
fn missing_scheme_other_scheme_bad_name_and_unclosed_are_errors() {
    let errors = sub("a: ${HOST}\nb: ${file:/x}\nc: ${env:1X}\nd: ${env:HOST\n").unwrap_err();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        errors[0].contains("has no scheme: write ${env:HOST}"),
        "{errors:?}"
    );
    assert!(errors[1].contains("uses the scheme \"file\""), "{errors:?}");
    assert!(
        errors[2].contains("\"1X\" in \"${env:1X}\" is not an environment variable name"),
        "{errors:?}"
    );
    assert_eq!(errors[3], "line 4: \"${env:HOST\" has no closing }");
}

#[test]
fn comments_are_left_alone() {
    let text = "# ${env:NOPE}\na: 1 # ${env:NOPE} $$\nb: x#${env:HOST}\n";
    assert_eq!(
        sub(text).unwrap(),
        "# ${env:NOPE}\na: 1 # ${env:NOPE} $$\nb: x#collector.local\n"
    );
}

#[test]
fn hash_inside_quotes_is_not_a_comment() {
    assert_eq!(
        sub("a: \"x # ${env:HOST}\"\nb: 'it''s # ${env:PORT}'\nc: \"q\\\" # ${env:PORT}\"")
            .unwrap(),
        "a: \"x # collector.local\"\nb: 'it''s # 4317'\nc: \"q\\\" # 4317\""
    );
}

#[test]
fn text_without_references_is_unchanged() {
    let text = "sources:\n  tcp: {}\n\u{e9}t\u{e9}: \"caf\u{e9}\"\n";
    assert_eq!(sub(text).unwrap(), text);
}
