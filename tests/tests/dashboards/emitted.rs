//! What kotel emits, in Prometheus form, derived rather than copied: the reference's
//! "Metrics (`aggregate`)" and "Self-telemetry" tables are parsed (name, instrument or
//! type, unit, attributes or labels), each metric is rendered by the `prometheus`
//! exporter's own code (`kotel::exporters::prometheus::text::render`, which names it with
//! `metric_name` and adds `_total`, `_bucket`, `_sum` and `_count`), and the sample names
//! of that scrape are the emitted names; exponential histograms add the bare family name
//! their protobuf scrape carries as a native histogram (`protobuf::render`), which is
//! also how Prometheus's OTLP receiver stores them. Label names come from the same tables (the
//! back-quoted keys), converted with the exporter's `sanitize`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use kotel::event::exponential::Exponential;
use kotel::event::{TelemetryPoint, TelemetrySnapshot};
use kotel::exporters::prometheus::protobuf;
use kotel::exporters::prometheus::state::{Family, FamilyKind, ScrapeState, SeriesValue};
use kotel::exporters::prometheus::text::{self, Format};

/// One row of a reference metric table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// OpenTelemetry name (`tcp.connection.opened`, `kotel.k8s_cri.calls`).
    pub name: String,
    /// The instrument or type column as written (`counter`, `up-down counter`, ...).
    pub instrument: String,
    /// UCUM unit (empty where the table has no unit column).
    pub unit: String,
    /// Attribute keys as OpenTelemetry names (`direction`, `k8s.pod.name`, ...).
    pub attributes: Vec<String>,
}

/// The rows of the markdown table that follows the heading `heading` in `readme`.
pub fn table_after(readme: &str, heading: &str) -> Result<Vec<BTreeMap<String, String>>, String> {
    let mut lines = readme.lines().skip_while(|l| l.trim() != heading);
    if lines.next().is_none() {
        return Err(format!("the reference has no heading {heading:?}"));
    }
    let rows: Vec<&str> = lines
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'))
        .collect();
    if rows.len() < 3 {
        return Err(format!("no table under {heading:?}"));
    }
    let cells = |line: &str| -> Vec<String> {
        let line = line.trim().replace("\\|", "\u{0}");
        let line = line.trim_start_matches('|').trim_end_matches('|');
        line.split('|')
            .map(|c| c.replace('\u{0}', "|").trim().to_string())
            .collect()
    };
    let header: Vec<String> = cells(rows[0]).iter().map(|h| h.to_lowercase()).collect();
    if !cells(rows[1])
        .iter()
        .all(|c| c.chars().all(|ch| "-: ".contains(ch)))
    {
        return Err(format!("the table under {heading:?} has no separator row"));
    }
    rows[2..]
        .iter()
        .map(|line| {
            let values = cells(line);
            if values.len() != header.len() {
                return Err(format!(
                    "{line:?}: {} cells, header has {}",
                    values.len(),
                    header.len()
                ));
            }
            Ok(header.iter().cloned().zip(values).collect())
        })
        .collect()
}

/// The back-quoted parts of a cell.
pub fn quoted(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// The attribute keys a cell names: back-quoted words outside parentheses, and inside
/// them those marked as added with `+` (`(+ `outcome`: ...)`); the values listed in
/// parentheses are left out.
pub fn keys(cell: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut after_plus = false;
    let mut chars = cell.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '+' => after_plus = true,
            '`' => {
                let word: String = chars.by_ref().take_while(|&c| c != '`').collect();
                if depth == 0 || after_plus {
                    out.push(word);
                }
                after_plus = false;
            }
            c if c.is_whitespace() => {}
            _ => after_plus = false,
        }
    }
    out
}

/// Expands a names cell: `` `a.b.c` `` or `` `a.b.c` / `a.b.d` `` or, with a relative
/// second name, `` `a.b.c` / `.d.e` ``: the relative name replaces the first name's tail
/// from its first segment where the first name has that segment (`kotel.x.queue.requests`
/// / `.queue.bytes` -> `kotel.x.queue.bytes`), else its last segment
/// (`kotel.x.retries` / `.send.duration_us` -> `kotel.x.send.duration_us`).
pub fn names(cell: &str) -> Result<Vec<String>, String> {
    let parts = quoted(cell);
    let first = parts
        .first()
        .ok_or_else(|| format!("no name in {cell:?}"))?
        .clone();
    let mut out = vec![first.clone()];
    for part in &parts[1..] {
        let Some(relative) = part.strip_prefix('.') else {
            out.push(part.clone());
            continue;
        };
        let segments: Vec<&str> = first.split('.').collect();
        let lead = relative.split('.').next().unwrap_or_default();
        let keep = match segments.iter().position(|s| *s == lead) {
            Some(at) => at,
            None => segments.len() - 1,
        };
        out.push(format!("{}.{relative}", segments[..keep].join(".")));
    }
    Ok(out)
}

/// The aggregate metrics of the docs/metrics.md table "Metrics (`aggregate`)". `workload` and
/// `peer` are the keys the words "workload" and "peer" of the attributes column stand for.
pub fn aggregate_rows(
    readme: &str,
    workload: &[String],
    peer: &[String],
) -> Result<Vec<Row>, String> {
    table_after(readme, "# Metrics (`aggregate`)")?
        .into_iter()
        .map(|cells| {
            let get = |k: &str| {
                cells
                    .get(k)
                    .cloned()
                    .ok_or_else(|| format!("no {k:?} column"))
            };
            let name = names(&get("name")?)?;
            if name.len() != 1 {
                return Err(format!("one name per aggregate row: {name:?}"));
            }
            let attributes_cell = get("attributes")?;
            let mut attributes = keys(&attributes_cell);
            let outside_parens: String = strip_parenthesized(&attributes_cell);
            if outside_parens
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w == "workload")
            {
                attributes.extend(workload.iter().cloned());
            }
            if outside_parens
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w == "peer")
            {
                attributes.extend(peer.iter().cloned());
            }
            Ok(Row {
                name: name[0].clone(),
                instrument: get("instrument")?,
                unit: quoted(&get("unit")?).concat(),
                attributes,
            })
        })
        .collect()
}

fn strip_parenthesized(cell: &str) -> String {
    let mut depth = 0usize;
    cell.chars()
        .filter(|&c| {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .collect()
}

/// The self-telemetry metrics of the docs/operations.md table "Self-telemetry": a row may name two
/// metrics (`a` / `b`), with one type for both or one each (`gauge / counter`); `same`
/// in the labels column means the previous row's labels.
pub fn telemetry_rows(readme: &str) -> Result<Vec<Row>, String> {
    let mut out = Vec::new();
    let mut previous_labels: Vec<String> = Vec::new();
    for cells in table_after(readme, "## Self-telemetry")? {
        let get = |k: &str| {
            cells
                .get(k)
                .cloned()
                .ok_or_else(|| format!("no {k:?} column"))
        };
        let names = names(&get("name")?)?;
        let types: Vec<String> = get("type")?
            .split('/')
            .map(|t| t.trim().to_string())
            .collect();
        let labels_cell = get("labels")?;
        let mut labels = keys(&labels_cell);
        if strip_parenthesized(&labels_cell)
            .trim_start()
            .starts_with("same")
        {
            let mut all = previous_labels.clone();
            all.extend(labels);
            labels = all;
        }
        previous_labels = labels.clone();
        for (i, name) in names.iter().enumerate() {
            let instrument = match types.len() {
                1 => types[0].clone(),
                n if n == names.len() => types[i].clone(),
                _ => return Err(format!("{names:?}: types {types:?} do not pair up")),
            };
            out.push(Row {
                name: name.clone(),
                instrument,
                unit: String::new(),
                attributes: labels.clone(),
            });
        }
    }
    Ok(out)
}

/// The exporter's family kind for a reference instrument.
pub fn family_kind(instrument: &str) -> Result<FamilyKind, String> {
    let instrument = instrument.trim().to_lowercase();
    if instrument.starts_with("up-down counter") || instrument == "gauge" {
        Ok(FamilyKind::Gauge)
    } else if instrument.starts_with("counter") {
        Ok(FamilyKind::Counter)
    } else if instrument.contains("histogram") {
        Ok(FamilyKind::Histogram)
    } else {
        Err(format!("unknown instrument {instrument:?}"))
    }
}

/// The sample names of a scrape text.
pub fn sample_names(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_string())
        .collect()
}

/// Prometheus sample names (with their label names) of the aggregate rows, rendered
/// by the exporter. Each row gets its own scrape, so that names map back to rows.
pub fn aggregate_names(rows: &[Row]) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut out = BTreeMap::new();
    for row in rows {
        let kind = family_kind(&row.instrument)?;
        let exponential = row.instrument.contains("exponential");
        let value = match kind {
            FamilyKind::Histogram if exponential => SeriesValue::Exponential(Exponential {
                scale: 2,
                zero_count: 0,
                offset: -40,
                counts: vec![1],
                count: 1,
                sum: 0.001,
            }),
            FamilyKind::Histogram => SeriesValue::Buckets {
                buckets: vec![(0.5, 1), (f64::INFINITY, 0)],
                count: 1,
                sum: 0.25,
                exemplars: Vec::new(),
            },
            _ => SeriesValue::Number(1),
        };
        let attributes: kotel::event::Attributes = Arc::from(Vec::new());
        let mut family = Family::new(&row.unit, "", kind);
        family.series.insert(attributes, (value, Instant::now()));
        let state = ScrapeState {
            families: BTreeMap::from([(row.name.clone(), family)]),
        };
        let scrape = text::render(&state, &TelemetrySnapshot::default(), &[], Format::Text);
        let mut names = sample_names(&scrape);
        names.extend(native_histogram_names(&state));
        let mut labels: BTreeSet<String> =
            row.attributes.iter().map(|a| text::sanitize(a)).collect();
        labels.insert(text::sanitize(
            kotel::processors::aggregate::store::OVERFLOW_KEY,
        ));
        for name in names {
            if name == "target_info" {
                continue;
            }
            let mut labels = labels.clone();
            if name.ends_with("_bucket") {
                labels.insert("le".into());
            }
            out.insert(name, labels);
        }
    }
    Ok(out)
}

/// The names of the native histograms a protobuf scrape of `state` carries (stored
/// under the bare family name: no `_bucket`, `_sum` or `_count`).
fn native_histogram_names(state: &ScrapeState) -> BTreeSet<String> {
    use prost::Message;
    let body = protobuf::render(state, &TelemetrySnapshot::default(), &[]);
    let mut rest = body.as_slice();
    let mut out = BTreeSet::new();
    while !rest.is_empty() {
        let family = protobuf::MetricFamily::decode_length_delimited(&mut rest)
            .expect("the exporter writes delimited MetricFamily messages");
        let native = family
            .metric
            .iter()
            .any(|m| m.histogram.as_ref().is_some_and(|h| h.schema.is_some()));
        if native {
            out.extend(family.name);
        }
    }
    out
}

/// Prometheus sample names (with their label names) of the self-telemetry rows.
pub fn telemetry_names(rows: &[Row]) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut out = BTreeMap::new();
    for row in rows {
        let point = TelemetryPoint {
            name: row.name.clone(),
            labels: Vec::new(),
            value: 1.0,
        };
        let mut snapshot = TelemetrySnapshot::default();
        match family_kind(&row.instrument)? {
            FamilyKind::Counter => snapshot.counters.push(point),
            FamilyKind::Gauge => snapshot.gauges.push(point),
            FamilyKind::Histogram => {
                return Err(format!("{}: no histograms in self-telemetry", row.name))
            }
        }
        let scrape = text::render(&ScrapeState::default(), &snapshot, &[], Format::Text);
        let labels: BTreeSet<String> = row.attributes.iter().map(|a| text::sanitize(a)).collect();
        for name in sample_names(&scrape) {
            if name != "target_info" {
                out.insert(name, labels.clone());
            }
        }
    }
    Ok(out)
}

/// The string literals of the form `"kotel.…"` in the non-test Rust sources under `dir`.
pub fn kotel_name_literals(dir: &std::path::Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                if file != "tests" {
                    stack.push(path);
                }
                continue;
            }
            if !file.ends_with(".rs") || file == "tests.rs" || file.ends_with("_tests.rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for (i, piece) in source.split('"').enumerate() {
                let is_metric_name = i % 2 == 1
                    && piece.starts_with("kotel.")
                    && piece.len() > "kotel.".len()
                    && piece.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_'
                    });
                if is_metric_name {
                    out.insert(piece.to_string());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_expand_against_the_first() {
        assert_eq!(names("`a.b`").unwrap(), vec!["a.b"]);
        assert_eq!(
            names("`kotel.channel.depth` / `kotel.channel.capacity`").unwrap(),
            vec!["kotel.channel.depth", "kotel.channel.capacity"]
        );
        assert_eq!(
            names("`kotel.exporter.otlp.sent` / `.sent.bytes`").unwrap(),
            vec!["kotel.exporter.otlp.sent", "kotel.exporter.otlp.sent.bytes"]
        );
        assert_eq!(
            names("`kotel.exporter.otlp.retries` / `.send.duration_us`").unwrap(),
            vec![
                "kotel.exporter.otlp.retries",
                "kotel.exporter.otlp.send.duration_us"
            ]
        );
        assert_eq!(
            names("`kotel.exporter.otlp.queue.requests` / `.queue.bytes`").unwrap(),
            vec![
                "kotel.exporter.otlp.queue.requests",
                "kotel.exporter.otlp.queue.bytes"
            ]
        );
        assert!(names("none").is_err());
    }

    #[test]
    fn keys_leave_out_listed_values() {
        assert_eq!(
            keys("workload, `direction` (`outbound`: connect, `inbound`: accept), peer"),
            vec!["direction"]
        );
        assert_eq!(
            keys("`component_id`, `rpc` (+ `outcome`: `ok`, `error`)"),
            vec!["component_id", "rpc", "outcome"]
        );
        assert_eq!(
            keys("same + `reason` (`queue_full`, `panic`)"),
            vec!["reason"]
        );
        assert_eq!(keys("`source` (component id)"), vec!["source"]);
    }

    #[test]
    fn tables_and_rows() {
        let readme = "intro\n# Metrics (`aggregate`)\n\n| name | instrument | unit | attributes |\n|---|---|---|---|\n\
            | `a.b` | counter | `{x}` | workload, `d` (`v`) |\n| `a.h` | histogram (explicit; 1 \\| 2) | `s` | peer |\n\ntext\n\
            ## Self-telemetry\n\n| name | type | labels | meaning |\n|---|---|---|---|\n\
            | `k.c` / `.d` | gauge / counter | `id` (+ `o`: `ok`) | m |\n| `k.e` | counter | same + `r` | m |\n";
        let rows = aggregate_rows(readme, &["w".into()], &["p".into()]).unwrap();
        assert_eq!(
            rows,
            vec![
                Row {
                    name: "a.b".into(),
                    instrument: "counter".into(),
                    unit: "{x}".into(),
                    attributes: vec!["d".into(), "w".into()]
                },
                Row {
                    name: "a.h".into(),
                    instrument: "histogram (explicit; 1 | 2)".into(),
                    unit: "s".into(),
                    attributes: vec!["p".into()]
                },
            ]
        );
        let rows = telemetry_rows(readme).unwrap();
        let summary: Vec<(&str, &str, Vec<String>)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.instrument.as_str(), r.attributes.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("k.c", "gauge", vec!["id".to_string(), "o".to_string()]),
                ("k.d", "counter", vec!["id".to_string(), "o".to_string()]),
                (
                    "k.e",
                    "counter",
                    vec!["id".to_string(), "o".to_string(), "r".to_string()]
                ),
            ]
        );
        assert!(table_after(readme, "## Nothing").is_err());
    }

    #[test]
    fn the_exporter_names_what_it_renders() {
        let rows = vec![
            Row {
                name: "t.c".into(),
                instrument: "counter".into(),
                unit: "By".into(),
                attributes: vec!["a.b".into()],
            },
            Row {
                name: "t.u".into(),
                instrument: "up-down counter".into(),
                unit: "{x}".into(),
                attributes: vec![],
            },
            Row {
                name: "t.h".into(),
                instrument: "exponential histogram".into(),
                unit: "s".into(),
                attributes: vec![],
            },
        ];
        let names = aggregate_names(&rows).unwrap();
        let keys: Vec<&str> = names.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec![
                "t_c_bytes_total",
                "t_h_seconds",
                "t_h_seconds_bucket",
                "t_h_seconds_count",
                "t_h_seconds_sum",
                "t_u"
            ]
        );
        assert!(names["t_c_bytes_total"].contains("a_b"));
        assert!(names["t_h_seconds_bucket"].contains("le"));
        assert!(!names["t_h_seconds"].contains("le"), "native: no le");
        assert!(!names["t_h_seconds_sum"].contains("le"));
    }
}
