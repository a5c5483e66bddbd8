//! Checks dashboard JSON against Grafana's own schema types with the TypeScript compiler.
//!
//! `@grafana/schema` (npm, published by Grafana for each release; here 12.1.1, whose
//! dashboard model is schemaVersion 41) holds the dashboard kind (`Dashboard`, `Panel`,
//! `RowPanel`, `VariableModel`, `FieldConfigSource`, ...), every core panel plugin's
//! `Options` and `FieldConfig`, and the Loki query (`LokiDataQuery`); the Prometheus query
//! type (`dataquery`) comes from `@grafana/grafana-foundation-sdk` 11.6 (Grafana's
//! generated SDK; the Prometheus plugin's schema left `@grafana/schema` in Grafana 11).
//! Both are generated from the CUE schemas in Grafana's repository.
//!
//! Each dashboard, and each panel's `options`, `fieldConfig.defaults.custom` and query,
//! becomes one constant `<json> satisfies Lit<Type>` of a generated TypeScript file, which
//! `tsc --strict` compiles. `Lit<T>` turns the schema's string enums into the string
//! literals JSON holds. So: an unknown key anywhere in those objects is an error (excess
//! property check on object literals), as are a missing required key, a wrong JSON type
//! and a string outside an enum. Not covered: the inside of the fields the schema types as
//! open (`Record<string, unknown>` / `any`: a variable's `query` object, transformation
//! options, override property values), and whether a query means anything (that is what
//! the metric-name tests are for).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Panel plugin id -> (module under @grafana/schema's composable types, whether it has
/// a `FieldConfig` type for `fieldConfig.defaults.custom`).
const PANELS: &[(&str, &str, bool)] = &[
    (
        "timeseries",
        "timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen",
        true,
    ),
    (
        "heatmap",
        "heatmap/panelcfg/x/HeatmapPanelCfg_types.gen",
        true,
    ),
    ("stat", "stat/panelcfg/x/StatPanelCfg_types.gen", false),
    ("table", "table/panelcfg/x/TablePanelCfg_types.gen", true),
    ("logs", "logs/panelcfg/x/LogsPanelCfg_types.gen", false),
    (
        "bargauge",
        "bargauge/panelcfg/x/BarGaugePanelCfg_types.gen",
        false,
    ),
];

const COMPOSABLE: &str = "@grafana/schema/dist/types/raw/composable/";

/// Where `scripts/setup-dashboard-tools.sh` installed the type packages and TypeScript.
pub struct Tools {
    /// The directory holding `node_modules`.
    pub dir: PathBuf,
}

impl Tools {
    /// The installed tools, checked against the versions pinned in
    /// `dashboards/tools/package.json`.
    pub fn find(repo: &Path) -> Result<Tools, String> {
        let dir = std::env::var_os("KOTEL_DASHBOARD_TOOLS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/opt/kotel-test/dashboard-tools"));
        let pins: Value = serde_json::from_str(
            &std::fs::read_to_string(repo.join("dashboards/tools/package.json"))
                .map_err(|e| format!("dashboards/tools/package.json: {e}"))?,
        )
        .map_err(|e| format!("dashboards/tools/package.json: {e}"))?;
        let pins = pins["devDependencies"]
            .as_object()
            .ok_or("dashboards/tools/package.json has no devDependencies")?;
        for (package, pinned) in pins {
            let manifest = dir.join("node_modules").join(package).join("package.json");
            let installed: Value = std::fs::read_to_string(&manifest)
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
                .ok_or_else(|| {
                    format!(
                        "{} is missing: run `bash scripts/setup-dashboard-tools.sh` (or set \
                         KOTEL_DASHBOARD_TOOLS)",
                        manifest.display()
                    )
                })?;
            if installed["version"] != *pinned {
                return Err(format!(
                    "{package} {} is installed in {}, dashboards/tools/package.json pins {pinned}: \
                     run `bash scripts/setup-dashboard-tools.sh`",
                    installed["version"],
                    dir.display()
                ));
            }
        }
        Ok(Tools { dir })
    }

    fn tsc(&self) -> PathBuf {
        self.dir.join("node_modules/typescript/bin/tsc")
    }
}

/// One problem tsc found, with what it was found in.
#[derive(Debug)]
pub struct Finding {
    /// `file.json: panel 3 "title" options` and the like.
    pub item: String,
    /// tsc's message.
    pub message: String,
}

/// Type-checks `dashboards` (file name, JSON) and returns tsc's findings (empty when
/// everything conforms). Errors that are not findings (a panel type or datasource without
/// known types, tsc not running) are `Err`.
pub fn check(tools: &Tools, dashboards: &[(String, Value)]) -> Result<Vec<Finding>, String> {
    let mut ts = String::new();
    let mut items: Vec<(usize, String)> = Vec::new();
    writeln!(
        ts,
        "// Generated by tests/tests/dashboards.rs: each constant is one object of dashboards/*.json."
    )
    .unwrap();
    writeln!(ts, "import type {{ Dashboard }} from '@grafana/schema';").unwrap();
    for (id, module, _) in PANELS {
        writeln!(ts, "import type * as {id} from '{COMPOSABLE}{module}';").unwrap();
    }
    writeln!(
        ts,
        "import type {{ LokiDataQuery }} from '{COMPOSABLE}loki/dataquery/x/LokiDataQuery_types.gen';"
    )
    .unwrap();
    writeln!(
        ts,
        "import type {{ dataquery as PrometheusQuery }} from '@grafana/grafana-foundation-sdk/dist/prometheus/types.gen';"
    )
    .unwrap();
    writeln!(
        ts,
        "type Lit<T> = T extends string ? `${{T}}` : T extends readonly (infer U)[] ? Lit<U>[] : T extends object ? {{ [K in keyof T]: Lit<T[K]> }} : T;"
    )
    .unwrap();
    writeln!(
        ts,
        "type PrometheusDataQuery = Omit<PrometheusQuery, '_implementsDataqueryVariant'>;"
    )
    .unwrap();

    let mut n = 0usize;
    let mut constant = |ts: &mut String,
                        items: &mut Vec<(usize, String)>,
                        item: String,
                        json: &Value,
                        ty: &str| {
        n += 1;
        // One line per constant, so that tsc's line numbers name the item.
        let line = ts.lines().count() + 1;
        writeln!(ts, "export const c{n} = {} satisfies Lit<{ty}>;", json).unwrap();
        items.push((line, item));
    };
    for (file, dashboard) in dashboards {
        constant(&mut ts, &mut items, file.clone(), dashboard, "Dashboard");
        let mut panels = Vec::new();
        super::catalog::collect_panels(dashboard.get("panels"), &mut panels);
        for panel in panels {
            let kind = panel["type"].as_str().unwrap_or_default();
            let name = format!("{file}: panel {} {}", panel["id"], panel["title"]);
            if kind == "row" {
                continue;
            }
            let &(id, _, has_field_config) = PANELS
                .iter()
                .find(|(id, _, _)| *id == kind)
                .ok_or_else(|| format!("{name}: no schema types listed for panel type {kind:?} (add them to PANELS)"))?;
            let options = panel
                .get("options")
                .cloned()
                .unwrap_or(Value::Object(Default::default()));
            constant(
                &mut ts,
                &mut items,
                format!("{name} options"),
                &options,
                &format!("{id}.Options"),
            );
            let custom = &panel["fieldConfig"]["defaults"]["custom"];
            if has_field_config {
                if !custom.is_null() {
                    constant(
                        &mut ts,
                        &mut items,
                        format!("{name} fieldConfig.defaults.custom"),
                        custom,
                        &format!("{id}.FieldConfig"),
                    );
                }
            } else if custom.as_object().is_some_and(|c| !c.is_empty()) {
                return Err(format!(
                    "{name}: a {kind} panel has no custom field config, yet sets {custom}"
                ));
            }
            for (i, target) in panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let datasource = target["datasource"]["type"]
                    .as_str()
                    .or_else(|| panel["datasource"]["type"].as_str())
                    .unwrap_or_default();
                let ty = match datasource {
                    "prometheus" => "PrometheusDataQuery",
                    "loki" => "LokiDataQuery",
                    other => {
                        return Err(format!(
                            "{name}: no query type known for datasource {other:?}"
                        ))
                    }
                };
                constant(
                    &mut ts,
                    &mut items,
                    format!("{name} targets[{i}]"),
                    target,
                    ty,
                );
            }
        }
    }

    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let modules = tools.dir.join("node_modules");
    let tsconfig = serde_json::json!({
        "compilerOptions": {
            "strict": true,
            "noEmit": true,
            "target": "es2022",
            "module": "commonjs",
            "moduleResolution": "node10",
            "skipLibCheck": true,
            "types": [],
            "paths": { "*": [format!("{}/*", modules.display())] }
        },
        "files": ["check.ts"]
    });
    std::fs::write(work.path().join("tsconfig.json"), tsconfig.to_string())
        .map_err(|e| e.to_string())?;
    std::fs::write(work.path().join("check.ts"), &ts).map_err(|e| e.to_string())?;
    let out = Command::new(std::env::var_os("KOTEL_NODE").unwrap_or_else(|| "node".into()))
        .arg(tools.tsc())
        .args(["-p", "tsconfig.json", "--pretty", "false"])
        .current_dir(work.path())
        .output()
        .map_err(|e| format!("running node {}: {e}", tools.tsc().display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        return Ok(Vec::new());
    }
    let mut findings: Vec<Finding> = Vec::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("check.ts(") {
            let number: usize = rest
                .split([',', ')'])
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("unreadable tsc line {line:?}"))?;
            let item = items
                .iter()
                .find(|(l, _)| *l == number)
                .map(|(_, item)| item.clone())
                .unwrap_or_else(|| {
                    format!("check.ts line {number} (not a dashboard item: the header)")
                });
            let message = rest.split_once("): ").map_or(rest, |(_, m)| m).to_string();
            findings.push(Finding { item, message });
        } else if let Some(last) = findings.last_mut() {
            last.message.push('\n');
            last.message.push_str(line);
        } else {
            findings.push(Finding {
                item: "tsc".into(),
                message: line.to_string(),
            });
        }
    }
    if findings.is_empty() {
        return Err(format!(
            "tsc failed without findings: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(findings)
}
