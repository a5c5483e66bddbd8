//! The dashboards as data: every `dashboards/*.json`, their panels (rows' included) and
//! every query with where it is and which datasource reads it. Shared by the static
//! checks (`dashboards.rs`) and the live one against real Prometheus
//! (`dashboards_live.rs`).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use kotel_integration_tests::repo_root;

/// Grafana's built-in variables (`$__rate_interval`, `$__range`, `$__auto`, ...) start
/// with `__`; every other `$name` must be a dashboard variable.
pub const BUILTIN_PREFIX: &str = "__";

pub fn dashboards_dir() -> PathBuf {
    repo_root().join("dashboards")
}

/// `(file name, JSON)` of every `dashboards/*.json`, sorted by name.
pub fn load_dashboards() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dashboards_dir())
        .expect("dashboards/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards/*.json");
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} is not valid JSON: {e}"));
            (name, json)
        })
        .collect()
}

pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    collect_panels(dashboard.get("panels"), &mut out);
    out
}

/// The datasource type of a target: its own, else its panel's.
pub fn target_datasource<'a>(panel: &'a Value, target: &'a Value) -> &'a str {
    target["datasource"]["type"]
        .as_str()
        .or_else(|| panel["datasource"]["type"].as_str())
        .unwrap_or_default()
}

/// Every `(where, datasource type, expression)` of a dashboard: panel targets and
/// variable queries.
pub fn expressions(file: &str, dashboard: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for (i, target) in panel["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let expr = target["expr"].as_str().unwrap_or_default().to_string();
            let at = format!(
                "{file}: panel {} {} targets[{i}]",
                panel["id"], panel["title"]
            );
            out.push((at, target_datasource(panel, target).to_string(), expr));
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query" {
            let query = variable["query"]["query"]
                .as_str()
                .or_else(|| variable["query"].as_str())
                .unwrap_or_default()
                .to_string();
            let at = format!("{file}: variable {}", variable["name"]);
            let datasource = variable["datasource"]["type"].as_str().unwrap_or_default();
            out.push((at, format!("{datasource}-variable"), query));
        }
    }
    out
}

/// `$name` and `${name}` / `${name:format}` references in `text`.
pub fn variable_references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let (name, tail) = match rest.strip_prefix('{') {
            Some(inner) => {
                let end = inner.find('}').unwrap_or(inner.len());
                let name = inner[..end].split(':').next().unwrap_or_default();
                (name.to_string(), &inner[end..])
            }
            None => {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                (rest[..end].to_string(), &rest[end..])
            }
        };
        if !name.is_empty() && !name.starts_with(BUILTIN_PREFIX) {
            out.insert(name);
        }
        rest = tail;
    }
    out
}

/// Every panel of `panels` and of the rows nested in it, depth first.
pub fn collect_panels<'a>(panels: Option<&'a Value>, out: &mut Vec<&'a Value>) {
    for panel in panels.and_then(Value::as_array).into_iter().flatten() {
        out.push(panel);
        collect_panels(panel.get("panels"), out);
    }
}

/// `expr` with Grafana's variables replaced by values Prometheus can evaluate: the rate
/// window by `rate_window`, the other range variables by durations, every dashboard
/// variable by `.*` (they only appear in regex matchers).
pub fn with_values(expr: &str, rate_window: &str) -> String {
    let mut out = expr.to_string();
    for (variable, value) in [
        ("$__rate_interval", rate_window),
        ("$__interval", "1m"),
        ("$__range", "1h"),
    ] {
        out = out.replace(variable, value);
    }
    let mut names: Vec<String> = variable_references(expr).into_iter().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        out = out
            .replace(&format!("${{{name}}}"), ".*")
            .replace(&format!("${name}"), ".*");
    }
    out
}
