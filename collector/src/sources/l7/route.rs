//! `http.route` with bounded cardinality: the first configured pattern a path matches,
//! else the path with its identifiers folded into `{id}`.
//!
//! Contract: [`Routes::route`] returns a pattern exactly as configured or a folded path;
//! a folded path has at most [`MAX_SEGMENTS`] segments (more become a final `/{rest}`)
//! and no segment that looks like an identifier: all digits, a UUID, hexadecimal of 8 or
//! more characters with a digit, or a token of 20 or more characters mixing letters and
//! digits.

use crate::settings::ConfigError;

/// Segments a folded path keeps before the rest becomes `{rest}`.
pub const MAX_SEGMENTS: usize = 8;

/// The placeholder of a folded identifier.
pub const ID: &str = "{id}";

/// Configured route patterns, in order: `/api/users/{id}` (a `{...}` segment matches any
/// one segment), `/static/*` (a final `*` matches the rest, including nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routes {
    patterns: Vec<Pattern>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    text: String,
    segments: Vec<Segment>,
    rest: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Any,
}

impl Routes {
    /// Routes from patterns; each must start with `/`, and `*` may only end one. Returns
    /// a problem for each that does not (path `routes[i]`) alongside the usable ones.
    pub fn new(patterns: &[String]) -> (Self, Vec<ConfigError>) {
        let mut problems = Vec::new();
        let mut parsed = Vec::new();
        for (i, text) in patterns.iter().enumerate() {
            match Pattern::parse(text) {
                Ok(p) => parsed.push(p),
                Err(e) => problems.push(ConfigError::new(format!("routes[{i}]"), e)),
            }
        }
        (Self { patterns: parsed }, problems)
    }

    /// The route of `path` (a URL path without its query).
    pub fn route(&self, path: &str) -> String {
        let segments: Vec<&str> = split(path).collect();
        self.patterns
            .iter()
            .find(|p| p.matches(&segments))
            .map_or_else(|| fold(&segments), |p| p.text.clone())
    }
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!("{text:?} must start with `/`"));
        }
        let mut segments: Vec<Segment> = split(text)
            .map(|s| {
                if s.starts_with('{') && s.ends_with('}') {
                    Segment::Any
                } else {
                    Segment::Literal(s.to_string())
                }
            })
            .collect();
        let rest = segments.last() == Some(&Segment::Literal("*".into()));
        if rest {
            segments.pop();
        }
        if segments.iter().any(|s| s == &Segment::Literal("*".into())) {
            return Err(format!("{text:?}: `*` may only end a pattern"));
        }
        Ok(Self {
            text: text.to_string(),
            segments,
            rest,
        })
    }

    fn matches(&self, path: &[&str]) -> bool {
        let fits = if self.rest {
            path.len() >= self.segments.len()
        } else {
            path.len() == self.segments.len()
        };
        fits && self.segments.iter().zip(path).all(|(s, p)| match s {
            Segment::Any => true,
            Segment::Literal(l) => l == p,
        })
    }
}

/// The non-empty segments of a path.
fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// `/` and the segments, identifiers folded, at most [`MAX_SEGMENTS`].
fn fold(segments: &[&str]) -> String {
    let mut out = String::new();
    for (i, segment) in segments.iter().enumerate() {
        out.push('/');
        if i == MAX_SEGMENTS {
            out.push_str("{rest}");
            break;
        }
        out.push_str(if is_identifier(segment) { ID } else { segment });
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Whether a path segment names one thing among many rather than a kind of thing.
pub fn is_identifier(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    let has_digit = bytes.iter().any(u8::is_ascii_digit);
    let all_digits = !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit);
    let hex = bytes.len() >= 8 && has_digit && bytes.iter().all(u8::is_ascii_hexdigit);
    let token = bytes.len() >= 20
        && has_digit
        && bytes.iter().any(u8::is_ascii_alphabetic)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~=+".contains(b));
    all_digits || is_uuid(bytes) || hex || token
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
