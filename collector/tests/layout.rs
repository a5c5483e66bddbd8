//! The shape of the source tree, as rules a change cannot break unnoticed:
//!
//! - **The layers run one way.** A top-level module of `collector/src` uses (`crate::…`
//!   outside comments) only modules of a lower layer: `event`, `node` and `settings` (the
//!   shared vocabulary of settings: ids, signals, durations, `ConfigError`) at the bottom,
//!   then `telemetry`, `component` (the contracts), `kernel`, then `sources`,
//!   `processors` and `exporters` (which never use each other), `config` (the pipeline
//!   file, whose registry lists them), `preflight`, `pipeline`, and `doctor` on top.
//! - **One style for unit tests.** Tests live in a file of their own beside the code:
//!   `foo.rs` declares `#[cfg(test)] #[path = "foo_tests.rs"] mod tests;`, a folder's
//!   `mod.rs` declares `#[cfg(test)] mod tests;` (its `tests.rs`); no inline `mod tests {}`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module's layer; a module may use only modules of a lower layer.
const LAYERS: &[(&str, u32)] = &[
    ("event", 0),
    ("node", 0),
    ("settings", 0),
    ("telemetry", 1),
    ("component", 2),
    ("kernel", 3),
    ("sources", 4),
    ("processors", 4),
    ("exporters", 4),
    ("config", 5),
    ("preflight", 6),
    ("pipeline", 7),
    ("doctor", 8),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// The top-level modules `text` uses through `crate::`, comments left out.
fn used_modules(text: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            used.insert(name);
        }
    }
    used
}

/// Every use of a module of the same or a higher layer, as `file uses module`.
fn layer_violations(files: &[(String, String)]) -> Vec<String> {
    let mut violations = Vec::new();
    for (relative, text) in files {
        let top = relative.split(['/', '.']).next().unwrap_or("");
        let Some(own) = layer(top) else { continue };
        for used in used_modules(text) {
            if used == top {
                continue;
            }
            match layer(&used) {
                Some(l) if l < own => {}
                Some(_) => violations.push(format!("{relative} uses {used}")),
                None => {}
            }
        }
    }
    violations
}

/// Every inline `mod tests {`.
fn inline_tests(files: &[(String, String)]) -> Vec<String> {
    files
        .iter()
        .filter(|(_, text)| {
            text.lines()
                .any(|l| l.trim_start().starts_with("mod tests {"))
        })
        .map(|(relative, _)| relative.clone())
        .collect()
}

fn tree() -> Vec<(String, String)> {
    let mut paths = Vec::new();
    rust_files(&src(), &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let relative = p.strip_prefix(src()).unwrap().display().to_string();
            (relative, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn every_top_level_module_has_a_layer() {
    let tops: BTreeSet<String> = tree()
        .iter()
        .map(|(r, _)| r.split(['/', '.']).next().unwrap().to_string())
        .filter(|m| !["lib", "main"].contains(&m.as_str()))
        .collect();
    let unknown: Vec<&String> = tops.iter().filter(|m| layer(m).is_none()).collect();
    assert!(
        unknown.is_empty(),
        "modules without a layer in LAYERS: {unknown:?}"
    );
}

#[test]
fn the_layers_run_one_way() {
    let violations = layer_violations(&tree());
    assert!(
        violations.is_empty(),
        "uses of the same or a higher layer: {violations:#?}"
    );
}

#[test]
fn unit_tests_live_in_their_own_files() {
    let inline = inline_tests(&tree());
    assert!(inline.is_empty(), "inline test modules: {inline:?}");
}

#[test]
fn the_checks_catch_a_reach_back_and_an_inline_module() {
    let file = |path: &str, text: &str| vec![(path.to_string(), text.to_string())];
    assert_eq!(
        layer_violations(&file("kernel/x.rs", "use crate::sources::tcp::Tcp;")),
        ["kernel/x.rs uses sources"]
    );
    assert_eq!(
        layer_violations(&file("sources/x.rs", "use crate::exporters::otlp;")),
        ["sources/x.rs uses exporters"]
    );
    assert!(layer_violations(&file("sources/x.rs", "// see crate::pipeline::run")).is_empty());
    assert!(layer_violations(&file("pipeline/x.rs", "use crate::kernel::reader;")).is_empty());
    assert_eq!(
        inline_tests(&file("a.rs", "#[cfg(test)]\nmod tests {\n}\n")),
        ["a.rs"]
    );
}
