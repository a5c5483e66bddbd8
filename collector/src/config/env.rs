//! `${env:VAR}` substitution in the raw text of a pipeline file, before YAML parsing, with
//! the OpenTelemetry Collector's syntax.
//!
//! Contract:
//! - `${env:NAME}` becomes the variable's value; `${env:NAME:-default}` becomes `default`
//!   when NAME is unset (a set but empty variable stays empty, as in the Collector). The
//!   default may be empty and may hold any character but `}`.
//! - `$$` is a literal `$` (`$${env:X}` gives the text `${env:X}`); any other `$` is kept.
//! - NAME is `[A-Za-z_][A-Za-z0-9_]*`. Errors, all collected, each naming its line: an unset
//!   variable without a default, `${NAME}` without the `env:` scheme, any other scheme, a
//!   reference inside a reference (`${env:A:-${env:B}}`), a `${` without `}` on its line.
//! - Substituted values are not scanned again.
//! - An empty value that makes up a whole unquoted scalar (`key: ${env:UNSET:-}`) becomes
//!   `""`: the empty string, as the Collector reads it, not YAML null.
//! - YAML comments (a `#` at the start of a line or after a blank, outside a quoted string
//!   opened on that line) are copied unchanged, so commented-out references need no value.
//!   A ` #` inside a block scalar (`|`) is taken for a comment too.
//! - Values are pasted as plain text, so YAML reads them where they land: unquoted,
//!   `X=[a, b]` becomes a list and a value holding a newline or `: ` can change the
//!   document's shape; `"${env:X}"` keeps it one string unless the value holds a `"`, a `\`
//!   or a newline. (The Collector also reads a whole-scalar reference as YAML, but cannot
//!   inject structure beyond that scalar.) A value holding a newline shifts the line
//!   numbers of later YAML errors.

use crate::config::error::ConfigError;

/// Substitutes every reference in `text`, looking variables up with `env`.
pub(crate) fn substitute(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<ConfigError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let mut line_errors = Vec::new();
        substitute_line(line, env, &mut out, &mut line_errors);
        errors.extend(
            line_errors
                .into_iter()
                .map(|m| ConfigError::new("", format!("line {}: {m}", index + 1))),
        );
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Substitutes one line into `out`; problems go to `errors` without the line number.
fn substitute_line(
    line: &str,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut String,
    errors: &mut Vec<String>,
) {
    let mut quote: Option<char> = None;
    let mut prev: Option<char> = None;
    let mut i = 0;
    while let Some(c) = line[i..].chars().next() {
        let next = line[i + c.len_utf8()..].chars().next();
        match c {
            '#' if quote.is_none() && prev.is_none_or(char::is_whitespace) => {
                out.push_str(&line[i..]);
                return;
            }
            '\'' | '"'
                if quote.is_none()
                    && prev.is_none_or(|p| p.is_whitespace() || "[{,".contains(p)) =>
            {
                quote = Some(c);
            }
            '\'' if quote == Some('\'') && next == Some('\'') => {
                // `''` is an escaped quote inside a single-quoted string.
                out.push_str("''");
                i += 2;
                prev = Some('\'');
                continue;
            }
            '\\' if quote == Some('"') && next.is_some_and(|n| n != '$') => {
                let n = next.unwrap_or_default();
                out.push(c);
                out.push(n);
                i += 1 + n.len_utf8();
                prev = Some(n);
                continue;
            }
            '\'' | '"' if quote == Some(c) => quote = None,
            '$' if next == Some('$') => {
                out.push('$');
                i += 2;
                prev = Some('$');
                continue;
            }
            '$' if next == Some('{') => {
                let body_start = i + 2;
                let Some(len) = line[body_start..].find('}') else {
                    errors.push(format!(
                        "\"{}\" has no closing }}",
                        line[i..].trim_end_matches(['\n', '\r'])
                    ));
                    return;
                };
                let body = &line[body_start..body_start + len];
                match resolve(body, env) {
                    Ok(value) if value.is_empty() && quote.is_none() => {
                        let rest = &line[body_start + len + 1..];
                        if is_whole_scalar(out, rest) {
                            // An empty whole value is the empty string, not YAML null
                            // (which a string field would read as the text "null").
                            out.push_str("\"\"");
                        }
                    }
                    Ok(value) => out.push_str(&value),
                    Err(message) => errors.push(message),
                }
                i = body_start + len + 1;
                prev = Some('}');
                continue;
            }
            _ => {}
        }
        out.push(c);
        prev = Some(c);
        i += c.len_utf8();
    }
}

/// True when a reference between the text already written (`before`) and the rest of
/// its line (`after`) is a whole unquoted YAML scalar: after `key:`, `- `, `[`, `{` or
/// `,`, and before the end of the line, a comment, `,`, `]` or `}`.
fn is_whole_scalar(before: &str, after: &str) -> bool {
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let lead = before[line_start..].trim_end();
    let opens = lead.ends_with(':') || lead.ends_with('-') || lead.ends_with(['[', '{', ',']);
    let tail = after.trim_start();
    let closes = tail.is_empty() || tail.starts_with(['#', ',', ']', '}']);
    opens && closes
}

/// The value of the reference `${body}`, or why it has none.
fn resolve(body: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if body.contains("${") {
        return Err(format!(
            "\"${{{body}}}\": nested references (a ${{...}} inside a ${{...}}) are not supported"
        ));
    }
    let Some(spec) = body.strip_prefix("env:") else {
        return Err(match body.split_once(':') {
            Some((scheme, _)) => format!(
                "\"${{{body}}}\" uses the scheme \"{scheme}\"; only env: is supported, as in ${{env:NAME}}"
            ),
            None => format!(
                "\"${{{body}}}\" has no scheme: write ${{env:{body}}} for an environment variable, or $${{{body}}} for the text itself"
            ),
        });
    };
    let (name, default) = match spec.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (spec, None),
    };
    if !is_variable_name(name) {
        return Err(format!(
            "\"{name}\" in \"${{{body}}}\" is not an environment variable name: use A-Z, a-z, 0-9 and _, not starting with a digit"
        ));
    }
    match (env(name), default) {
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(format!(
            "environment variable {name} is not set and ${{env:{name}}} has no default (write ${{env:{name}:-value}} to give one)"
        )),
    }
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`.
fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
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
}
