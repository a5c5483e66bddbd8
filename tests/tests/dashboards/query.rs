//! A small reader of the PromQL and LogQL the dashboards hold: which metric names an
//! expression queries, and which label names it matches on or groups by. It is not a
//! full parser: it tokenizes (strings, `{...}` matchers, `[...]` ranges and Grafana
//! variables are recognised as wholes) and then classifies identifiers: an identifier
//! followed by `(` is a function (it must be a known one), a grouping keyword (`by`,
//! `without`, `on`, `ignoring`, `group_left`, `group_right`) takes a parenthesized list of
//! label names, the binary keywords are skipped, and every other identifier is a metric
//! name (with the matchers that follow it, if any). Anything it does not understand is an
//! error, so that a query it cannot read fails the test rather than passing unread.

use std::collections::BTreeSet;

/// One vector selector: `metric{label="value", ...}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// The metric name (from the identifier, or from an equality matcher on `__name__`);
    /// `None` for a selector without one.
    pub metric: Option<String>,
    /// Label names of the matchers, in order (`__name__` left out).
    pub labels: Vec<String>,
}

/// What an expression reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    /// Every vector selector (PromQL) or stream selector (LogQL).
    pub selectors: Vec<Selector>,
    /// Label names in `by`/`without`/`on`/`ignoring`/`group_left`/`group_right` lists and,
    /// for LogQL, in label filters after `|`.
    pub labels: Vec<String>,
}

impl Reads {
    /// The metric names, deduplicated.
    pub fn metrics(&self) -> BTreeSet<String> {
        self.selectors
            .iter()
            .filter_map(|s| s.metric.clone())
            .collect()
    }
}

/// PromQL functions and aggregation operators (Prometheus 2.x and 3.x).
const PROMQL_FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg",
    "avg_over_time",
    "bottomk",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count",
    "count_over_time",
    "count_values",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "end",
    "exp",
    "floor",
    "group",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "info",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "limit_ratio",
    "limitk",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max",
    "max_over_time",
    "min",
    "min_over_time",
    "minute",
    "month",
    "predict_linear",
    "present_over_time",
    "quantile",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "start",
    "stddev",
    "stddev_over_time",
    "stdvar",
    "stdvar_over_time",
    "sum",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "topk",
    "vector",
    "year",
];

/// LogQL range and vector functions.
const LOGQL_FUNCTIONS: &[&str] = &[
    "absent_over_time",
    "avg",
    "avg_over_time",
    "bottomk",
    "bytes_over_time",
    "bytes_rate",
    "count",
    "count_over_time",
    "first_over_time",
    "last_over_time",
    "max",
    "max_over_time",
    "min",
    "min_over_time",
    "quantile_over_time",
    "rate",
    "rate_counter",
    "sort",
    "sort_desc",
    "stddev",
    "stddev_over_time",
    "stdvar",
    "stdvar_over_time",
    "sum",
    "sum_over_time",
    "topk",
    "vector",
];

const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// PromQL aggregation operators: they may take `by (...)`/`without (...)` before their
/// parenthesized argument (`sum by (le) (...)`).
const PROMQL_AGGREGATIONS: &[&str] = &[
    "avg",
    "bottomk",
    "count",
    "count_values",
    "group",
    "limit_ratio",
    "limitk",
    "max",
    "min",
    "quantile",
    "stddev",
    "stdvar",
    "sum",
    "topk",
];

/// LogQL vector aggregation operators.
const LOGQL_AGGREGATIONS: &[&str] = &[
    "avg",
    "bottomk",
    "count",
    "max",
    "min",
    "sort",
    "sort_desc",
    "stddev",
    "stdvar",
    "sum",
    "topk",
];

/// True when `toks[i]` is followed by `by` or `without`.
fn grouped(toks: &[Tok], i: usize) -> bool {
    matches!(toks.get(i + 1), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case("by") || w.eq_ignore_ascii_case("without"))
}
const BINARY_KEYWORDS: &[&str] = &[
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    /// `{...}`: the label names of its matchers, and the value of `__name__="..."`.
    Matchers(Vec<String>, Option<String>),
    Str,
    Num,
    /// `$name` / `${name}` outside a string or range.
    Var,
    /// `[...]`: a range or subquery window.
    Range,
    Punct(char),
}

fn tokenize(expr: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' || c == '`' {
            i = skip_string(&chars, i)?;
            out.push(Tok::Str);
        } else if c == '{' {
            let (tok, next) = matchers(&chars, i)?;
            out.push(tok);
            i = next;
        } else if c == '[' {
            let end = chars[i..]
                .iter()
                .position(|&c| c == ']')
                .ok_or_else(|| format!("unclosed `[` in {expr:?}"))?;
            out.push(Tok::Range);
            i += end + 1;
        } else if c == '$' {
            i += 1;
            if chars.get(i) == Some(&'{') {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| format!("unclosed `${{` in {expr:?}"))?;
                i += end + 1;
            } else {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            out.push(Tok::Var);
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            // Numbers, hex, exponents and durations (5m, 1h30m): digits, letters and dots.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                let sign_after_exponent = (chars[i] == 'e' || chars[i] == 'E')
                    && matches!(chars.get(i + 1), Some('+') | Some('-'));
                i += if sign_after_exponent { 2 } else { 1 };
            }
            out.push(Tok::Num);
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if "(),+-*/%^=!<>~@|".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else if c == '}' || c == ']' {
            return Err(format!("unbalanced `{c}` in {expr:?}"));
        } else {
            return Err(format!("unexpected character {c:?} in {expr:?}"));
        }
    }
    Ok(out)
}

/// Index just past the string literal starting at `start`.
fn skip_string(chars: &[char], start: usize) -> Result<usize, String> {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
        } else if chars[i] == quote {
            return Ok(i + 1);
        } else {
            i += 1;
        }
    }
    Err(format!(
        "unclosed string in {:?}",
        chars.iter().collect::<String>()
    ))
}

/// Parses `{label op "value", ...}` starting at `start` (the `{`).
fn matchers(chars: &[char], start: usize) -> Result<(Tok, usize), String> {
    let text = || chars.iter().collect::<String>();
    let mut labels = Vec::new();
    let mut name = None;
    let mut i = start + 1;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        match chars.get(i) {
            None => return Err(format!("unclosed `{{` in {:?}", text())),
            Some('}') => return Ok((Tok::Matchers(labels, name), i + 1)),
            _ => {}
        }
        let label_start = i;
        while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let label: String = chars[label_start..i].iter().collect();
        if label.is_empty() {
            return Err(format!("expected a label name at {i} in {:?}", text()));
        }
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let op_start = i;
        while i < chars.len() && "=!~".contains(chars[i]) {
            i += 1;
        }
        let op: String = chars[op_start..i].iter().collect();
        if !["=", "!=", "=~", "!~"].contains(&op.as_str()) {
            return Err(format!("bad matcher operator {op:?} in {:?}", text()));
        }
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if !matches!(chars.get(i), Some('"') | Some('\'') | Some('`')) {
            return Err(format!(
                "expected a string after {label}{op} in {:?}",
                text()
            ));
        }
        let value_end = skip_string(chars, i)?;
        if label == "__name__" {
            if op == "=" {
                name = Some(chars[i + 1..value_end - 1].iter().collect());
            }
        } else {
            labels.push(label);
        }
        i = value_end;
    }
}

/// The metric names and label names a PromQL expression reads.
pub fn promql(expr: &str) -> Result<Reads, String> {
    let toks = tokenize(expr)?;
    let mut reads = Reads::default();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Ident(word) => {
                let lower = word.to_ascii_lowercase();
                let next = toks.get(i + 1);
                if GROUPING.contains(&lower.as_str()) {
                    i += 1;
                    if next == Some(&Tok::Punct('(')) {
                        i = label_list(&toks, i, &mut reads.labels, expr)?;
                    }
                    continue;
                }
                if BINARY_KEYWORDS.contains(&lower.as_str()) && next != Some(&Tok::Punct('(')) {
                    i += 1;
                    continue;
                }
                if grouped(&toks, i) {
                    if !PROMQL_AGGREGATIONS.contains(&word.as_str()) {
                        return Err(format!(
                            "{word:?} is not an aggregation operator, in {expr:?}"
                        ));
                    }
                    i += 1;
                    continue;
                }
                if next == Some(&Tok::Punct('(')) {
                    if !PROMQL_FUNCTIONS.contains(&word.as_str()) {
                        return Err(format!("unknown PromQL function {word:?} in {expr:?}"));
                    }
                    i += 1;
                    continue;
                }
                let labels = match next {
                    Some(Tok::Matchers(labels, None)) => {
                        i += 1;
                        labels.clone()
                    }
                    Some(Tok::Matchers(_, Some(_))) => {
                        return Err(format!("{word} has a second name (__name__) in {expr:?}"))
                    }
                    _ => Vec::new(),
                };
                reads.selectors.push(Selector {
                    metric: Some(word.clone()),
                    labels,
                });
                i += 1;
            }
            Tok::Matchers(labels, name) => {
                reads.selectors.push(Selector {
                    metric: name.clone(),
                    labels: labels.clone(),
                });
                i += 1;
            }
            _ => i += 1,
        }
    }
    Ok(reads)
}

/// Collects the identifiers of the `( ... )` list starting at `toks[open]`; returns the
/// index after the `)`.
fn label_list(
    toks: &[Tok],
    open: usize,
    into: &mut Vec<String>,
    expr: &str,
) -> Result<usize, String> {
    let mut i = open + 1;
    loop {
        match toks.get(i) {
            Some(Tok::Ident(label)) => into.push(label.clone()),
            Some(Tok::Punct(',')) => {}
            Some(Tok::Punct(')')) => return Ok(i + 1),
            other => return Err(format!("unexpected {other:?} in a label list of {expr:?}")),
        }
        i += 1;
    }
}

/// Reads a Grafana Prometheus variable query: `label_values(selector, label)`,
/// `label_values(label)` or `query_result(expr)`. The label of `label_values` is returned
/// among the labels.
pub fn prometheus_variable(query: &str) -> Result<Reads, String> {
    let query = query.trim();
    if let Some(inner) = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
    {
        let (selector, label) = match inner.rfind(',') {
            Some(comma) => (inner[..comma].trim(), inner[comma + 1..].trim()),
            None => ("", inner.trim()),
        };
        if label.is_empty() || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("bad label {label:?} in {query:?}"));
        }
        let mut reads = if selector.is_empty() {
            Reads::default()
        } else {
            promql(selector)?
        };
        reads.labels.push(label.to_string());
        return Ok(reads);
    }
    if let Some(inner) = query
        .strip_prefix("query_result(")
        .and_then(|q| q.strip_suffix(')'))
    {
        return promql(inner);
    }
    Err(format!("unsupported variable query {query:?}"))
}

/// The stream selectors and label names a LogQL query reads: `{...}` matchers, label
/// filters after `|` (`| name="v"`, `| name=~"re"`, `| name!=...`, comparisons), and
/// `by`/`without` lists. Line filters (`|=`, `!=`, `|~`, `!~` followed by a string) are
/// skipped; parsers and formatters (`| json`, `| line_format`, ...) are errors, since no
/// dashboard uses them.
pub fn logql(expr: &str) -> Result<Reads, String> {
    let toks = tokenize(expr)?;
    let mut reads = Reads::default();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Matchers(labels, name) => {
                if name.is_some() {
                    return Err(format!("__name__ in a LogQL selector: {expr:?}"));
                }
                reads.selectors.push(Selector {
                    metric: None,
                    labels: labels.clone(),
                });
                i += 1;
            }
            Tok::Punct('|') => match toks.get(i + 1) {
                Some(Tok::Ident(label)) => {
                    let op = toks.get(i + 2);
                    if !matches!(op, Some(Tok::Punct('=' | '!' | '<' | '>'))) {
                        return Err(format!("unsupported stage `| {label}` in {expr:?}"));
                    }
                    reads.labels.push(label.clone());
                    i += 3;
                }
                Some(Tok::Punct('=' | '~')) => i += 2,
                other => return Err(format!("unexpected {other:?} after `|` in {expr:?}")),
            },
            Tok::Ident(word) => {
                let lower = word.to_ascii_lowercase();
                let next = toks.get(i + 1);
                if lower == "by" || lower == "without" {
                    if next != Some(&Tok::Punct('(')) {
                        return Err(format!("`{word}` without a label list in {expr:?}"));
                    }
                    i = label_list(&toks, i + 1, &mut reads.labels, expr)?;
                } else if grouped(&toks, i) {
                    if !LOGQL_AGGREGATIONS.contains(&word.as_str()) {
                        return Err(format!(
                            "{word:?} is not an aggregation operator, in {expr:?}"
                        ));
                    }
                    i += 1;
                } else if next == Some(&Tok::Punct('(')) {
                    if !LOGQL_FUNCTIONS.contains(&word.as_str()) {
                        return Err(format!("unknown LogQL function {word:?} in {expr:?}"));
                    }
                    i += 1;
                } else if ["and", "or", "unless", "bool"].contains(&lower.as_str()) {
                    i += 1;
                } else {
                    return Err(format!("unexpected identifier {word:?} in {expr:?}"));
                }
            }
            _ => i += 1,
        }
    }
    if reads.selectors.is_empty() {
        return Err(format!("no stream selector in {expr:?}"));
    }
    Ok(reads)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(expr: &str) -> Vec<String> {
        promql(expr).unwrap().metrics().into_iter().collect()
    }

    #[test]
    fn metric_names_followed_by_matchers_ranges_parens_or_space() {
        let reads = promql(
            r#"histogram_quantile(0.99, sum by (le, k8s_pod_name) (rate(tcp_rtt_seconds_bucket{k8s_namespace_name=~"$namespace", k8s_pod_name=~"$pod"}[$__rate_interval])))"#,
        )
        .unwrap();
        assert_eq!(
            reads.selectors,
            vec![Selector {
                metric: Some("tcp_rtt_seconds_bucket".into()),
                labels: vec!["k8s_namespace_name".into(), "k8s_pod_name".into()],
            }]
        );
        assert_eq!(reads.labels, vec!["le", "k8s_pod_name"]);
        assert_eq!(metrics("sum(a_total)"), vec!["a_total"]);
        assert_eq!(metrics("rate(a_total[5m])"), vec!["a_total"]);
        assert_eq!(metrics("a + b * 2"), vec!["a", "b"]);
        assert_eq!(metrics("a\n/\tb"), vec!["a", "b"]);
        assert_eq!(metrics("a"), vec!["a"]);
        assert_eq!(metrics("job:up:sum"), vec!["job:up:sum"]);
    }

    #[test]
    fn functions_keywords_strings_numbers_and_variables_are_not_metrics() {
        assert_eq!(
            metrics(r#"label_replace(topk(10, x_total), "dst", "$1 {y}", "src", "(.*)")"#),
            vec!["x_total"]
        );
        assert_eq!(metrics("count(x == 0) or vector(0)"), vec!["x"]);
        assert_eq!(
            metrics("a and on (instance) b unless c"),
            vec!["a", "b", "c"]
        );
        assert_eq!(metrics("sum(rate(m[5m] offset 1h)) by (le)"), vec!["m"]);
        assert_eq!(metrics("m @ start()"), vec!["m"]);
        assert_eq!(
            metrics("sum without (a) (m) / 1e6 + 0x1f - 1.5e-3"),
            vec!["m"]
        );
        assert_eq!(metrics("topk($k, m) > bool 3"), vec!["m"]);
        assert_eq!(metrics("max_over_time(m[1h30m:5m])"), vec!["m"]);
        assert_eq!(metrics(r#"m{a="}", b='{'} > Inf"#), vec!["m"]);
    }

    #[test]
    fn group_modifiers_give_labels() {
        let reads = promql("a * on (instance) group_left (node, pod) b").unwrap();
        assert_eq!(reads.labels, vec!["instance", "node", "pod"]);
        assert_eq!(reads.metrics().len(), 2);
    }

    #[test]
    fn name_matchers_count_as_metric_names() {
        let reads = promql(r#"{__name__="abc", job="x"}"#).unwrap();
        assert_eq!(
            reads.selectors,
            vec![Selector {
                metric: Some("abc".into()),
                labels: vec!["job".into()],
            }]
        );
        let reads = promql(r#"{__name__=~"tcp_.*"}"#).unwrap();
        assert_eq!(reads.selectors[0].metric, None);
    }

    #[test]
    fn what_it_cannot_read_is_an_error() {
        assert!(promql("rat(m[5m])")
            .unwrap_err()
            .contains("unknown PromQL function"));
        assert!(promql("rate by (a) (m)")
            .unwrap_err()
            .contains("not an aggregation"));
        assert!(promql("m{a=\"x\"").is_err());
        assert!(promql("m{a}").is_err());
        assert!(promql("m}").is_err());
        assert!(promql("rate(m[5m)").is_err());
        assert!(promql("m{a=\"x}").is_err());
        assert!(promql("a # b").is_err());
    }

    #[test]
    fn variable_queries() {
        let reads = prometheus_variable(r#"label_values(m_total{ns=~"$namespace"}, k8s_pod_name)"#)
            .unwrap();
        assert_eq!(
            reads.metrics().into_iter().collect::<Vec<_>>(),
            vec!["m_total"]
        );
        assert_eq!(reads.labels, vec!["k8s_pod_name"]);
        assert_eq!(reads.selectors[0].labels, vec!["ns"]);
        let reads = prometheus_variable("label_values(instance)").unwrap();
        assert!(reads.selectors.is_empty());
        assert_eq!(reads.labels, vec!["instance"]);
        assert_eq!(
            prometheus_variable("query_result(sum(m))")
                .unwrap()
                .metrics()
                .len(),
            1
        );
        assert!(prometheus_variable("metrics(.*)").is_err());
        assert!(prometheus_variable("label_values(m, a-b)").is_err());
    }

    #[test]
    fn logql_labels() {
        let reads = logql(
            r#"sum by (k8s_pod_name, file_path) (rate({service_name="kotel"} |= "x" != "y" | event_name="file.open" | k8s_pod_name=~"$pod" [$__auto]))"#,
        )
        .unwrap();
        assert_eq!(
            reads.selectors,
            vec![Selector {
                metric: None,
                labels: vec!["service_name".into()],
            }]
        );
        assert_eq!(
            reads.labels,
            vec!["k8s_pod_name", "file_path", "event_name", "k8s_pod_name"]
        );
        assert!(logql(r#"{a="b"} | json"#).is_err());
        assert!(logql(r#"{a="b"} | line_format "{{.x}}""#).is_err());
        assert!(logql(r#"rates({a="b"}[5m])"#).is_err());
        assert!(logql("sum(x)").is_err());
    }
}
