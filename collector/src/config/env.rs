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

use crate::settings::error::ConfigError;

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
#[path = "env_tests.rs"]
mod tests;
