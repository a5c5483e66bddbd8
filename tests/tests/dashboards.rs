//! The Grafana dashboards in `dashboards/`: the committed JSON is what
//! `dashboards/generate.py` writes; every dashboard is well formed (variables, datasource
//! references, panel ids and layout); every PromQL query reads only metric and label names
//! kotel emits, derived from the reference's metric tables (docs/metrics.md, docs/operations.md) rendered through the `prometheus`
//! exporter's own naming (and those tables are checked against the code), and parses
//! for Prometheus (`promtool`); every LogQL query reads only what kotel's OTLP log records
//! carry; and the JSON type-checks against Grafana's published schema types (see
//! `dashboards/schema.rs` next to this file for exactly what that covers).
//!
//! Needs `python3` (the generator), and what `scripts/setup-dashboard-tools.sh` installs
//! (Node.js, TypeScript, Grafana's type packages, `promtool`); no root, no network.

#[path = "dashboards/catalog.rs"]
mod catalog;
#[path = "dashboards/emitted.rs"]
mod emitted;
#[path = "dashboards/query.rs"]
mod query;
#[path = "dashboards/schema.rs"]
mod schema;

use catalog::{dashboards_dir, expressions, load_dashboards, panels, variable_references};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;

use kotel::event::{keys, Workload};
use kotel::event::{Event, ExecEvent, FileOpenEvent};
use kotel::exporters::prometheus::text::sanitize;
use kotel::processors::aggregate::instruments::{Instrument, Kind};
use kotel::processors::aggregate::AggregateConfig;
use kotel_integration_tests::repo_root;

/// The dashboard model version the generator writes (Grafana 11.6 to 12.1).
const SCHEMA_VERSION: u64 = 41;

/// Labels Prometheus adds to every scraped series (the target's).
const TARGET_LABELS: &[&str] = &["instance", "job"];

fn python() -> std::ffi::OsString {
    std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into())
}

#[test]
fn committed_dashboards_match_the_generator() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(python())
        .arg(dashboards_dir().join("generate.py"))
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("running python3 dashboards/generate.py");
    assert!(
        status.status.success(),
        "generate.py failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let generated: BTreeSet<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    let committed: BTreeSet<String> = load_dashboards()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        committed, generated,
        "dashboards/*.json and what generate.py writes are different sets of files"
    );
    for name in &generated {
        let fresh = std::fs::read_to_string(out.path().join(name)).unwrap();
        let committed = std::fs::read_to_string(dashboards_dir().join(name)).unwrap();
        assert!(
            fresh == committed,
            "dashboards/{name} differs from what dashboards/generate.py writes: run \
             `python3 dashboards/generate.py` and commit the result (edit the generator, \
             not the JSON)"
        );
    }
}

#[test]
fn dashboards_are_well_formed() {
    let mut uids = BTreeSet::new();
    for (file, d) in load_dashboards() {
        assert!(d.is_object(), "{file}: not a JSON object");
        assert_eq!(
            d["schemaVersion"].as_u64(),
            Some(SCHEMA_VERSION),
            "{file}: schemaVersion"
        );
        assert!(
            d["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{file}: no title"
        );
        let uid = d["uid"].as_str().unwrap_or_default();
        assert!(
            (1..=40).contains(&uid.len()),
            "{file}: uid {uid:?} must have 1 to 40 characters"
        );
        assert!(
            uids.insert(uid.to_string()),
            "{file}: uid {uid:?} used twice"
        );

        // Variables: unique names; datasource variables by plugin.
        let variables: Vec<&Value> = d["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let mut names = BTreeSet::new();
        let mut datasource_vars: BTreeMap<String, String> = BTreeMap::new();
        for v in &variables {
            let name = v["name"].as_str().unwrap_or_default().to_string();
            assert!(
                names.insert(name.clone()),
                "{file}: variable {name:?} defined twice"
            );
            if v["type"] == "datasource" {
                datasource_vars.insert(name, v["query"].as_str().unwrap_or_default().to_string());
            }
        }
        assert!(
            datasource_vars
                .get("datasource")
                .is_some_and(|p| p == "prometheus"),
            "{file}: needs a `datasource` variable of type datasource with query `prometheus`"
        );

        // Datasource references: `${var}` of a datasource variable of the same plugin.
        let check_ref = |at: &str, ds: &Value| {
            let kind = ds["type"].as_str().unwrap_or_default();
            let uid = ds["uid"].as_str().unwrap_or_default();
            let var = uid
                .strip_prefix("${")
                .and_then(|u| u.strip_suffix('}'))
                .unwrap_or_else(|| {
                    panic!("{file}: {at}: datasource uid {uid:?} is not a `${{variable}}`")
                });
            match datasource_vars.get(var) {
                Some(plugin) => assert_eq!(
                    plugin, kind,
                    "{file}: {at}: datasource type {kind:?} but ${{{var}}} selects {plugin:?} datasources"
                ),
                None => panic!("{file}: {at}: datasource ${{{var}}} is not a datasource variable"),
            }
        };
        let mut ids = BTreeSet::new();
        let mut cells: Vec<(i64, i64, i64, i64, String)> = Vec::new();
        for p in panels(&d) {
            let at = format!("panel {} {}", p["id"], p["title"]);
            let id = p["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("{file}: {at}: no numeric id"));
            assert!(
                id > 0 && ids.insert(id),
                "{file}: {at}: panel id {id} is not unique"
            );
            assert!(
                p["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{file}: {at}: no title"
            );
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_i64().unwrap(),
                g["y"].as_i64().unwrap(),
                g["w"].as_i64().unwrap(),
                g["h"].as_i64().unwrap(),
            );
            assert!(
                x >= 0 && w > 0 && h > 0 && x + w <= 24,
                "{file}: {at}: gridPos {g} outside the 24 columns"
            );
            for (x2, y2, w2, h2, other) in &cells {
                let overlap = x < x2 + w2 && *x2 < x + w && y < y2 + h2 && *y2 < y + h;
                assert!(!overlap, "{file}: {at} overlaps {other}");
            }
            cells.push((x, y, w, h, at.clone()));
            if p["type"] == "row" {
                assert!(
                    p.get("targets").is_none(),
                    "{file}: {at}: a row with queries"
                );
                continue;
            }
            check_ref(&at, &p["datasource"]);
            let targets = p["targets"]
                .as_array()
                .unwrap_or_else(|| panic!("{file}: {at}: no targets"));
            assert!(!targets.is_empty(), "{file}: {at}: no targets");
            let mut refs = BTreeSet::new();
            for t in targets {
                assert!(
                    refs.insert(t["refId"].as_str().unwrap_or_default()),
                    "{file}: {at}: refId repeated"
                );
                assert!(
                    t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                    "{file}: {at}: empty expr"
                );
                if !t["datasource"].is_null() {
                    check_ref(&at, &t["datasource"]);
                    assert_eq!(
                        t["datasource"], p["datasource"],
                        "{file}: {at}: a target's datasource differs from its panel's"
                    );
                }
            }
        }
        for v in &variables {
            if v["type"] == "query" {
                check_ref(&format!("variable {}", v["name"]), &v["datasource"]);
            }
        }

        // Every `$variable` used is defined.
        let mut used = BTreeSet::new();
        for (at, _, expr) in expressions(&file, &d) {
            for name in variable_references(&expr) {
                assert!(
                    names.contains(&name),
                    "{at}: ${name} is not a variable of the dashboard"
                );
                used.insert(name);
            }
        }

        // Per-pod dashboards: namespace and pod variables (multi-select with All), and
        // every query of per-pod data filters by both.
        let workload: Vec<String> = AggregateConfig::default()
            .attributes
            .iter()
            .map(|a| sanitize(a))
            .collect();
        let (ns_label, pod_label) = (sanitize(keys::NAMESPACE), sanitize(keys::POD_NAME));
        assert!(workload.contains(&ns_label) && workload.contains(&pod_label));
        let mut per_pod = false;
        for (at, datasource, expr) in expressions(&file, &d) {
            let workload_data = match datasource.as_str() {
                "prometheus" => query::promql(&expr)
                    .unwrap()
                    .metrics()
                    .iter()
                    .any(|m| m.starts_with("tcp_")),
                "loki" => true,
                _ => false,
            };
            if workload_data {
                per_pod = true;
                for filter in [
                    format!("{ns_label}=~\"$namespace\""),
                    format!("{pod_label}=~\"$pod\""),
                ] {
                    assert!(
                        expr.contains(&filter),
                        "{at}: per-pod query without `{filter}`: {expr}"
                    );
                }
            }
        }
        if per_pod {
            for (name, label) in [("namespace", &ns_label), ("pod", &pod_label)] {
                let v = variables
                    .iter()
                    .find(|v| v["name"] == name)
                    .unwrap_or_else(|| panic!("{file}: per-pod queries but no `{name}` variable"));
                assert_eq!(v["type"], "query", "{file}: variable {name}");
                assert_eq!(
                    v["multi"], true,
                    "{file}: variable {name} must be multi-select"
                );
                assert_eq!(
                    v["includeAll"], true,
                    "{file}: variable {name} must offer All"
                );
                let q = v["query"]["query"].as_str().unwrap_or_default();
                let reads = query::prometheus_variable(q).unwrap();
                assert_eq!(
                    reads.labels.last(),
                    Some(label),
                    "{file}: variable {name} lists {q}"
                );
            }
            assert!(used.contains("namespace") && used.contains("pod"));
        }
        if panels(&d).iter().any(|p| p["datasource"]["type"] == "loki") {
            assert!(
                datasource_vars.values().any(|p| p == "loki"),
                "{file}: Loki panels need a Loki datasource variable"
            );
        }
    }
}

/// Emitted Prometheus names with their label names: the reference's aggregate and
/// self-telemetry tables, rendered by the exporter.
fn emitted(readme: &str) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let workload = AggregateConfig::default().attributes;
    let peer = peer_attributes(readme);
    let aggregate = emitted::aggregate_rows(readme, &workload, &peer)?;
    let telemetry = emitted::telemetry_rows(readme)?;
    let mut names = emitted::aggregate_names(&aggregate)?;
    for (name, labels) in emitted::telemetry_names(&telemetry)? {
        if names.insert(name.clone(), labels).is_some() {
            return Err(format!("{name} is emitted twice"));
        }
    }
    Ok(names)
}

/// The reference pages the tables live in: the metrics `aggregate` emits
/// (`docs/metrics.md`) and the agent's own (`docs/operations.md`, "Self-telemetry").
fn readme() -> String {
    ["docs/metrics.md", "docs/operations.md"]
        .iter()
        .map(|page| std::fs::read_to_string(repo_root().join(page)).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The keys the reference's word "peer" stands for: the back-quoted names in the sentence
/// that defines it (none if there is no such sentence).
fn peer_attributes(readme: &str) -> Vec<String> {
    let Some(at) = readme.find("\"peer\" is") else {
        return Vec::new();
    };
    let sentence = &readme[at..];
    let end = sentence.find(". ").unwrap_or(sentence.len());
    emitted::quoted(&sentence[..end])
}

/// Problems of one Prometheus query (`datasource` `prometheus`) or variable query
/// (`prometheus-variable`): metric names kotel does not emit, matchers on labels a metric
/// does not have, grouping by labels none of its metrics has. Adds the metric names to
/// `queried`.
fn prometheus_problems(
    at: &str,
    datasource: &str,
    expr: &str,
    emitted: &BTreeMap<String, BTreeSet<String>>,
    queried: &mut BTreeSet<String>,
) -> Vec<String> {
    let reads = match datasource {
        "prometheus" => query::promql(expr),
        "prometheus-variable" => query::prometheus_variable(expr),
        _ => return Vec::new(),
    };
    let reads = match reads {
        Ok(reads) => reads,
        Err(e) => return vec![format!("{at}: {e}")],
    };
    let mut problems = Vec::new();
    let mut allowed: BTreeSet<&str> = TARGET_LABELS.iter().copied().collect();
    for selector in &reads.selectors {
        let Some(metric) = &selector.metric else {
            problems.push(format!("{at}: a selector without a metric name: {expr}"));
            continue;
        };
        queried.insert(metric.clone());
        let Some(labels) = emitted.get(metric) else {
            problems.push(format!("{at}: {metric} is not a metric kotel emits"));
            continue;
        };
        allowed.extend(labels.iter().map(String::as_str));
        for label in &selector.labels {
            if !labels.contains(label) && !TARGET_LABELS.contains(&label.as_str()) {
                problems.push(format!("{at}: {metric} has no label {label}"));
            }
        }
    }
    for label in &reads.labels {
        if !allowed.contains(label.as_str()) {
            problems.push(format!(
                "{at}: groups or lists by {label}, which none of its metrics has"
            ));
        }
    }
    problems
}

#[test]
fn every_prometheus_query_reads_metrics_and_labels_kotel_emits() {
    let emitted = emitted(&readme()).unwrap();
    let mut queried = BTreeSet::new();
    let mut problems = Vec::new();
    for (file, d) in load_dashboards() {
        for (at, datasource, expr) in expressions(&file, &d) {
            problems.extend(prometheus_problems(
                &at,
                &datasource,
                &expr,
                &emitted,
                &mut queried,
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        queried.len() >= 20,
        "only {} metrics queried: {queried:?}",
        queried.len()
    );
    println!(
        "metrics queried ({}):\n{}",
        queried.len(),
        queried.iter().cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_metric_check_rejects_names_and_labels_kotel_does_not_emit() {
    let emitted = emitted(&readme()).unwrap();
    let problems = |datasource: &str, expr: &str| {
        prometheus_problems("q", datasource, expr, &emitted, &mut BTreeSet::new())
    };
    // What the exporter really serves passes.
    for expr in [
        "sum by (le, k8s_pod_name) (rate(tcp_rtt_seconds_bucket[5m]))",
        "histogram_quantile(0.9, sum by (k8s_pod_name) (rate(tcp_rtt_seconds[5m])))",
        "tcp_connection_io_bytes_total{network_io_direction=\"receive\", instance=\"a\"}",
        "tcp_connection_open",
        "kotel_k8s_cri_connected",
        "sum by (reason) (kotel_component_events_dropped_total)",
        "kotel_exporter_otlp_queue_bytes",
        "kotel_exporter_otlp_sent_bytes_total",
        "sum by (metric) (kotel_aggregate_overflow_total)",
    ] {
        assert_eq!(problems("prometheus", expr), Vec::<String>::new(), "{expr}");
    }
    // OTel names, names without their suffixes, wrong suffixes, unknown labels.
    // Explicit histograms have no native form; native ones no `le`.
    for expr in [
        "tcp_connection_duration_seconds",
        "sum by (le) (rate(tcp_rtt_seconds[5m]))",
        "tcp_rtt_bucket",
        "tcp_connection_opened",
        "tcp_connection_open_total",
        "tcp_connection_io_total",
        "kotel_k8s_cri_connected_total",
        "kotel_component_events_dropped",
        "tcp_resets_total{k8s_pod=\"x\"}",
        "sum by (pod) (tcp_resets_total)",
        "sum by (le) (tcp_resets_total)",
        "rate(kotel_ebpf_ringbuf_lost_total{le=\"1\"}[5m])",
    ] {
        assert!(!problems("prometheus", expr).is_empty(), "{expr} passed");
    }
    assert!(!problems(
        "prometheus-variable",
        "label_values(tcp_rtt_seconds_count, pod)"
    )
    .is_empty());
    assert!(problems(
        "prometheus-variable",
        "label_values(tcp_rtt_seconds_count, k8s_pod_name)"
    )
    .is_empty());
}

/// Differences between the reference's aggregate table and the instruments of
/// `collector/src/processors/aggregate/instruments.rs`, by (name, unit, instrument).
fn readme_vs_instruments(readme: &str) -> Result<(), String> {
    let rows = emitted::aggregate_rows(readme, &[], &[])?;
    let readme_set: BTreeSet<(String, String, String)> = rows
        .iter()
        .map(|r| {
            let instrument = r.instrument.to_lowercase();
            let kind = if instrument.starts_with("exponential histogram") {
                "kernel histogram"
            } else if instrument.starts_with("histogram") {
                "histogram"
            } else if instrument.starts_with("up-down counter") {
                "up-down counter"
            } else if instrument.starts_with("counter") {
                "counter"
            } else {
                "unknown"
            };
            (r.name.clone(), r.unit.clone(), kind.to_string())
        })
        .collect();
    let code_set: BTreeSet<(String, String, String)> = Instrument::ALL
        .into_iter()
        .map(|i| {
            let (name, unit, kind, _) = i.spec();
            let kind = match kind {
                Kind::Counter => "counter",
                Kind::UpDownCounter => "up-down counter",
                Kind::Histogram => "histogram",
                Kind::KernelHistogram => "kernel histogram",
            };
            (name.to_string(), unit.to_string(), kind.to_string())
        })
        .collect();
    if rows.len() != readme_set.len() {
        return Err("a metric is listed twice in docs/metrics.md".into());
    }
    if readme_set != code_set {
        return Err(format!(
            "docs/metrics.md \"Metrics (`aggregate`)\" (name, unit, instrument) differs from \
             collector/src/processors/aggregate/instruments.rs: only in docs/metrics.md: {:?}; \
             only in the code: {:?}",
            readme_set.difference(&code_set).collect::<Vec<_>>(),
            code_set.difference(&readme_set).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

#[test]
fn readme_aggregate_metrics_match_the_instruments() {
    readme_vs_instruments(&readme()).unwrap_or_else(|e| panic!("{e}"));
}

/// Differences between the reference's self-telemetry names and the `"kotel.*"` string
/// literals of collector/src (tests left out).
fn readme_vs_telemetry_code(readme: &str) -> Result<(), String> {
    let readme_names: BTreeSet<String> = emitted::telemetry_rows(readme)?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let code_names = emitted::kotel_name_literals(&repo_root().join("collector/src"));
    let missing_in_readme: Vec<&String> = code_names.difference(&readme_names).collect();
    let missing_in_code: Vec<&String> = readme_names.difference(&code_names).collect();
    if missing_in_readme.is_empty() && missing_in_code.is_empty() {
        return Ok(());
    }
    Err(format!(
        "docs/operations.md \"Self-telemetry\" and the \"kotel.*\" names in collector/src differ: \
         recorded but not listed: {missing_in_readme:?}; listed but not recorded: {missing_in_code:?}"
    ))
}

#[test]
fn readme_self_telemetry_matches_the_code() {
    readme_vs_telemetry_code(&readme()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_readme_checks_catch_drift() {
    let readme = readme();
    let edits = [
        ("`tcp.rtt`", "`tcp.round_trip`"),
        (
            "| `tcp.connection.open` | up-down counter |",
            "| `tcp.connection.open` | counter |",
        ),
        (
            "| `tcp.connection.io` | counter | `By` |",
            "| `tcp.connection.io` | counter | `{byte}` |",
        ),
    ];
    for (from, to) in edits {
        assert!(
            readme.contains(from),
            "the reference no longer has {from:?}: update this test"
        );
        let edited = readme.replacen(from, to, 1);
        assert!(
            readme_vs_instruments(&edited).is_err(),
            "{from:?} -> {to:?} went unnoticed"
        );
    }
    // A row dropped from the aggregate table.
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `tcp.resets` |"))
        .expect("the tcp.resets row");
    assert!(readme_vs_instruments(&readme.replacen(&format!("{row}\n"), "", 1)).is_err());
    // A self-telemetry name renamed, and one dropped.
    let renamed = ("| `kotel.ebpf.ringbuf.lost` |", "| `kotel.ebpf.lost` |");
    assert!(
        readme.contains(renamed.0),
        "the reference no longer has {:?}: update this test",
        renamed.0
    );
    assert!(readme_vs_telemetry_code(&readme.replacen(renamed.0, renamed.1, 1)).is_err());
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `kotel.aggregate.overflow` |"))
        .expect("the overflow row");
    assert!(readme_vs_telemetry_code(&readme.replacen(&format!("{row}\n"), "", 1)).is_err());
}

/// What kotel's OTLP log records carry, from the real encoder: the `event_name`s, the
/// attribute keys (record and resource) as Loki names them, and the `service.name`.
fn log_fields() -> (BTreeSet<String>, BTreeSet<String>, String) {
    use kotel::exporters::otlp::{encode_logs, resource};
    let workload = Arc::new(Workload::from_pairs([
        (keys::NAMESPACE, "ns"),
        (keys::POD_NAME, "pod"),
        (keys::CONTAINER_NAME, "container"),
    ]));
    let mut exec = Event::Exec(ExecEvent {
        path: "/bin/true".into(),
        args: vec!["true".into()],
        ..Default::default()
    });
    let mut open = Event::FileOpen(FileOpenEvent {
        path: "/etc/shadow".into(),
        ..Default::default()
    });
    exec.set_workload(workload.clone());
    open.set_workload(workload);
    let res = resource::resource("node-1", &BTreeMap::new());
    let request = encode_logs::logs_request(&res, &[&exec, &open]).expect("log records");
    let mut event_names = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for rl in &request.resource_logs {
        for kv in &rl.resource.as_ref().expect("a resource").attributes {
            labels.insert(sanitize(&kv.key));
        }
        for sl in &rl.scope_logs {
            for record in &sl.log_records {
                event_names.insert(record.event_name.clone());
                labels.extend(record.attributes.iter().map(|kv| sanitize(&kv.key)));
            }
        }
    }
    assert!(
        labels.contains("service_name"),
        "the resource has no service.name"
    );
    // Loki keeps the record's event_name as structured metadata `event_name`.
    labels.insert("event_name".into());
    (event_names, labels, resource::SERVICE_NAME.to_string())
}

/// Problems of one LogQL query: stream labels other than `service_name` (what Loki's OTLP
/// endpoint indexes for kotel), filter or grouping labels kotel's records do not carry,
/// and `event_name` / `service_name` values kotel does not send.
fn loki_problems(at: &str, expr: &str) -> Vec<String> {
    let (event_names, labels, service_name) = log_fields();
    let reads = match query::logql(expr) {
        Ok(reads) => reads,
        Err(e) => return vec![format!("{at}: {e}")],
    };
    let mut problems = Vec::new();
    for selector in &reads.selectors {
        for label in &selector.labels {
            if label != "service_name" {
                problems.push(format!(
                    "{at}: stream label {label} is not one Loki indexes for kotel"
                ));
            }
        }
    }
    for label in &reads.labels {
        if !labels.contains(label) {
            problems.push(format!("{at}: kotel's log records carry no {label}"));
        }
    }
    for (label, allowed) in [
        ("event_name", event_names),
        ("service_name", BTreeSet::from([service_name])),
    ] {
        let needle = format!("{label}=\"");
        for (i, _) in expr.match_indices(&needle) {
            let value: String = expr[i + needle.len()..]
                .chars()
                .take_while(|&c| c != '"')
                .collect();
            if !allowed.contains(&value) {
                problems.push(format!(
                    "{at}: {label}=\"{value}\", kotel sends {allowed:?}"
                ));
            }
        }
    }
    problems
}

#[test]
fn every_loki_query_reads_what_kotel_logs_carry() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for (file, d) in load_dashboards() {
        for (at, datasource, expr) in expressions(&file, &d) {
            if datasource == "loki" {
                checked += 1;
                problems.extend(loki_problems(&at, &expr));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked > 0, "no Loki query checked");
}

#[test]
fn the_loki_check_rejects_what_kotel_does_not_send() {
    let ok = r#"sum by (k8s_pod_name, file_path) (count_over_time({service_name="kotel"} | event_name="file.open" | k8s_namespace_name=~"$namespace" [5m]))"#;
    assert_eq!(loki_problems("q", ok), Vec::<String>::new());
    for expr in [
        r#"{service_name="kotel"} | event_name="process.execs""#,
        r#"{service_name="kotel-agent"}"#,
        r#"{k8s_pod_name="x"}"#,
        r#"{service_name="kotel"} | k8s_pod=~"$pod""#,
        r#"sum by (file_name) (rate({service_name="kotel"}[5m]))"#,
    ] {
        assert!(!loki_problems("q", expr).is_empty(), "{expr} passed");
    }
}

/// [`catalog::with_values`] with the windows promtool checks use.
fn with_sample_values(expr: &str) -> String {
    catalog::with_values(expr, "5m")
}

/// Prometheus' own rule checker: `KOTEL_PROMTOOL`, else the copy
/// `scripts/setup-dashboard-tools.sh` extracts when the system has none, else `promtool`.
fn promtool() -> std::ffi::OsString {
    if let Some(path) = std::env::var_os("KOTEL_PROMTOOL") {
        return path;
    }
    let tools = std::env::var_os("KOTEL_DASHBOARD_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/kotel-test/dashboard-tools"));
    let copy = tools.join("bin/promtool");
    if copy.exists() {
        copy.into_os_string()
    } else {
        "promtool".into()
    }
}

/// Runs `promtool check rules` on `exprs` as recording rules; the failures it prints.
fn promtool_failures(exprs: &[(String, String)]) -> Result<String, String> {
    let mut rules = String::from("groups:\n  - name: dashboards\n    rules:\n");
    for (i, (_, expr)) in exprs.iter().enumerate() {
        let quoted = serde_json::to_string(&with_sample_values(expr)).unwrap();
        rules.push_str(&format!(
            "      - record: dashboard:query{i}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, rules).unwrap();
    let out = Command::new(promtool())
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .map_err(|e| {
            format!("running promtool (scripts/setup-dashboard-tools.sh installs it): {e}")
        })?;
    if out.status.success() {
        return Ok(String::new());
    }
    let mut report = String::from_utf8_lossy(&out.stdout).to_string();
    report.push_str(&String::from_utf8_lossy(&out.stderr));
    // Name the dashboard query of each failing rule.
    for (i, (at, _)) in exprs.iter().enumerate().rev() {
        report = report.replace(&format!("\"dashboard:query{i}\""), at);
    }
    Ok(report)
}

#[test]
fn prometheus_queries_parse_with_promtool() {
    let mut exprs = Vec::new();
    for (file, d) in load_dashboards() {
        for (at, datasource, expr) in expressions(&file, &d) {
            match datasource.as_str() {
                "prometheus" => exprs.push((at, expr)),
                "prometheus-variable" => {
                    // label_values(selector, label): the selector is PromQL.
                    let inner = expr
                        .trim()
                        .strip_prefix("label_values(")
                        .and_then(|e| e.strip_suffix(')'));
                    if let Some((selector, _)) = inner.and_then(|i| i.rsplit_once(',')) {
                        exprs.push((at, selector.to_string()));
                    }
                }
                _ => {}
            }
        }
    }
    assert!(!exprs.is_empty());
    let failures = promtool_failures(&exprs).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        failures.is_empty(),
        "promtool rejects dashboard queries:\n{failures}"
    );
    // And it does reject what does not parse.
    let broken = vec![
        (
            "typo".to_string(),
            "sum(rat(tcp_resets_total[$__rate_interval]))".to_string(),
        ),
        (
            "unbalanced".to_string(),
            "sum(rate(tcp_resets_total[5m])".to_string(),
        ),
    ];
    let failures = promtool_failures(&broken).unwrap();
    assert!(
        failures.contains("typo") && failures.contains("unbalanced"),
        "{failures}"
    );
}

#[test]
fn sample_values_replace_grafana_variables() {
    assert_eq!(
        with_sample_values(
            r#"rate(m{a=~"$namespace", b=~"${pod}"}[$__rate_interval]) / increase(m[$__range])"#
        ),
        r#"rate(m{a=~".*", b=~".*"}[5m]) / increase(m[1h])"#
    );
}

#[test]
fn dashboards_conform_to_grafana_schema() {
    let tools = schema::Tools::find(&repo_root()).unwrap_or_else(|e| panic!("{e}"));
    let dashboards = load_dashboards();
    let findings = schema::check(&tools, &dashboards).unwrap_or_else(|e| panic!("{e}"));
    let report: Vec<String> = findings
        .iter()
        .map(|f| format!("{}: {}", f.item, f.message))
        .collect();
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn schema_check_rejects_what_grafana_would_not_accept() {
    let tools = schema::Tools::find(&repo_root()).unwrap_or_else(|e| panic!("{e}"));
    let (_, base) = load_dashboards()
        .into_iter()
        .find(|(name, _)| name == "kotel-network.json")
        .expect("kotel-network.json");
    let heatmap_index = base["panels"]
        .as_array()
        .unwrap()
        .iter()
        .position(|p| p["type"] == "heatmap")
        .expect("a heatmap panel");
    let timeseries_index = base["panels"]
        .as_array()
        .unwrap()
        .iter()
        .position(|p| p["type"] == "timeseries")
        .expect("a timeseries panel");
    type Mutation = (&'static str, Box<dyn Fn(&mut Value)>);
    let mutations: Vec<Mutation> = vec![
        (
            "unknown-panel-key.json",
            Box::new(|d: &mut Value| d["panels"][1]["fieldconfig"] = serde_json::json!({})),
        ),
        (
            "missing-grid-width.json",
            Box::new(|d: &mut Value| {
                d["panels"][1]["gridPos"]
                    .as_object_mut()
                    .unwrap()
                    .remove("w");
            }),
        ),
        (
            "unknown-variable-key.json",
            Box::new(|d: &mut Value| d["templating"]["list"][1]["definitionn"] = "x".into()),
        ),
        (
            "bad-color-mode.json",
            Box::new(move |d: &mut Value| {
                d["panels"][heatmap_index]["options"]["color"]["mode"] = "rainbow".into()
            }),
        ),
        (
            "bad-draw-style.json",
            Box::new(move |d: &mut Value| {
                d["panels"][timeseries_index]["fieldConfig"]["defaults"]["custom"]["drawStyle"] =
                    "lines".into()
            }),
        ),
        (
            "bad-query-key.json",
            Box::new(|d: &mut Value| d["panels"][1]["targets"][0]["legend"] = "x".into()),
        ),
        (
            "wrong-json-type.json",
            Box::new(|d: &mut Value| d["refresh"] = 30.into()),
        ),
    ];
    let broken: Vec<(String, Value)> = mutations
        .iter()
        .map(|(name, mutate)| {
            let mut d = base.clone();
            mutate(&mut d);
            (name.to_string(), d)
        })
        .collect();
    let findings = schema::check(&tools, &broken).unwrap_or_else(|e| panic!("{e}"));
    for (name, _) in &broken {
        assert!(
            findings.iter().any(|f| f.item.starts_with(name.as_str())),
            "the schema check let {name} through; findings: {findings:#?}"
        );
    }
    assert_eq!(
        findings.len(),
        broken.len(),
        "one finding per broken file expected: {findings:#?}"
    );
}

#[test]
fn variable_references_are_found() {
    let refs =
        variable_references(r#"a{x=~"$namespace", y=~"${pod:regex}"}[$__rate_interval] $x_1"#);
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        vec!["namespace", "pod", "x_1"]
    );
}
