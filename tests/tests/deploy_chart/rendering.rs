//! The chart rendered with one set of values, and what a pod made from it would see:
//! its container, its environment, the pipeline as kotel parses it, and its host mounts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use kotel::config::{parse_str, Config, ProcessorConfig, SourceConfig};
use kotel::processors::k8s_cri::K8sCriConfig;
use kotel_integration_tests::repo_root;

use crate::docs::{container, one, parse_all, pod_env, Doc};
use crate::tools;

/// The chart rendered with one set of values.
pub struct Rendering {
    /// `default` or the values file's name.
    pub case: String,
    /// The values file (Null for the defaults).
    pub values: Value,
    pub docs: Vec<Doc>,
}

impl Rendering {
    pub fn new(values_file: Option<&Path>) -> Rendering {
        let case = values_file
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .unwrap_or_else(|| "default".into());
        let ran = tools::helm_template(values_file, &[]);
        assert!(ran.ok, "{case}: helm template failed:\n{}", ran.both());
        let values = values_file
            .map(|f| yaml_serde::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .unwrap_or(Value::Null);
        let docs = parse_all(&ran.stdout, &case);
        Rendering { case, values, docs }
    }

    /// A value the case's values file sets, else `default` (the chart's default).
    pub fn flag(&self, pointer: &str, default: bool) -> bool {
        self.values
            .pointer(pointer)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    pub fn daemonset(&self) -> &Value {
        &one(&self.docs, "DaemonSet", &self.case).value
    }

    pub fn pod_spec(&self) -> &Value {
        &self.daemonset()["spec"]["template"]["spec"]
    }

    pub fn kotel(&self) -> &Value {
        container(self.daemonset(), "kotel")
    }

    pub fn config_map(&self) -> &Value {
        &one(&self.docs, "ConfigMap", &self.case).value
    }

    pub fn pipeline(&self) -> String {
        self.config_map()["data"]["pipeline.yaml"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: the ConfigMap has no pipeline.yaml", self.case))
            .to_string()
    }

    pub fn env(&self) -> BTreeMap<String, String> {
        pod_env(self.kotel(), &self.docs)
    }

    /// The pipeline as kotel reads it in the pod (its environment substituted).
    pub fn config(&self) -> Config {
        parsed(&self.pipeline(), &self.env(), &self.case)
    }

    pub fn host_mounts(&self) -> Vec<HostMount> {
        host_mounts(self.pod_spec(), self.kotel())
    }
}

pub fn parsed(pipeline: &str, env: &BTreeMap<String, String>, what: &str) -> Config {
    parse_str(pipeline, &|name| env.get(name).cloned())
        .unwrap_or_else(|e| panic!("{what}: kotel does not accept the pipeline: {e}\n{pipeline}"))
}

/// The values files of the chart's CI cases, sorted.
pub fn values_files() -> Vec<PathBuf> {
    let dir = tools::chart_dir().join("ci");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 2,
        "expected at least two values files in {}",
        dir.display()
    );
    files
}

/// The default rendering, then one per CI values file.
pub fn renderings() -> Vec<Rendering> {
    let mut all = vec![Rendering::new(None)];
    all.extend(values_files().iter().map(|f| Rendering::new(Some(f))));
    all
}

pub fn sidecar_docs() -> Vec<Doc> {
    let path = repo_root().join("deploy/manifests/sidecar-example.yaml");
    parse_all(
        &std::fs::read_to_string(path).unwrap(),
        "sidecar-example.yaml",
    )
}

/// A hostPath volume as one container mounts it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostMount {
    pub mount_path: String,
    pub host_path: String,
    pub kind: String,
    pub read_only: bool,
    pub propagation: String,
    pub sub_path: bool,
}

pub fn host_mounts(pod_spec: &Value, container: &Value) -> Vec<HostMount> {
    let volumes: BTreeMap<&str, &Value> = pod_spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let volume = volumes[m["name"].as_str().unwrap()];
            let host = volume.get("hostPath")?;
            Some(HostMount {
                mount_path: m["mountPath"].as_str().unwrap().to_string(),
                host_path: host["path"].as_str().unwrap().to_string(),
                kind: host["type"].as_str().unwrap_or("").to_string(),
                read_only: m["readOnly"] == true,
                propagation: m["mountPropagation"].as_str().unwrap_or("None").to_string(),
                sub_path: m.get("subPath").is_some() || m.get("subPathExpr").is_some(),
            })
        })
        .collect()
}

/// The host path that `path` (inside the container) shows, through the deepest mount
/// that holds it; None when no host mount does.
pub fn on_host(mounts: &[HostMount], path: &Path) -> Option<PathBuf> {
    mounts
        .iter()
        .filter_map(|m| {
            let rest = path.strip_prefix(&m.mount_path).ok()?;
            Some((m.mount_path.len(), Path::new(&m.host_path).join(rest)))
        })
        .max_by_key(|(depth, _)| *depth)
        .map(|(_, host)| host)
}

pub fn k8s_cri(config: &Config) -> &K8sCriConfig {
    config
        .processors
        .values()
        .find_map(|p| match p {
            ProcessorConfig::K8sCri(c) => Some(c),
            _ => None,
        })
        .expect("a k8s_cri processor")
}

pub fn tcp_cgroup_root(config: &Config) -> PathBuf {
    config
        .sources
        .values()
        .find_map(|s| match s {
            SourceConfig::Tcp(t) => Some(t.cgroup_root.clone()),
            _ => None,
        })
        .expect("a tcp source")
}

/// The host path of a socket path kotel probes under `host_root`.
pub fn cri_host_path(socket: &Path, cri: &K8sCriConfig) -> PathBuf {
    Path::new("/").join(socket.strip_prefix(&cri.host_root).unwrap())
}
