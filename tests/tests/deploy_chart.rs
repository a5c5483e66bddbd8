//! The deployment files in `deploy/`, checked offline (no cluster can run here):
//!
//! - the Helm chart `deploy/helm/kotel` lints (also `--strict`) and renders with its
//!   default values and with every values file in `deploy/helm/kotel/ci/`; each rendering
//!   and the sidecar example validate against the Kubernetes 1.33 schemas
//!   (`kubernetes-validate --strict`). The prometheus-operator kinds (ServiceMonitor,
//!   PodMonitor) have no offline schema: they are left out of that run and checked here
//!   instead (fields, and that their selectors and ports match the Service and pods);
//! - the DaemonSet as documented: not privileged, root's uid with every capability
//!   dropped but exactly the documented ones, read-only root filesystem, every host mount
//!   read-only and of type Directory, and the host mounts cover what kotel itself reads
//!   (the runtime sockets `k8s_cri` probes, computed by kotel's own discovery code from
//!   the rendered config; the cgroup roots; /proc; BTF; tracefs); the node name from the
//!   downward API; the pipeline ConfigMap mounted as a directory;
//! - OTLP header values never reach the ConfigMap, and the rendered pipeline (each
//!   rendering, and the sidecar's) passes `kotel validate` with the environment the pod
//!   would have, header values from the Secrets included;
//! - `deploy/manifests/kotel.yaml` is exactly what `deploy/render-manifests.sh` renders
//!   now; the OpenTelemetry Collector gateway config defines every component its
//!   pipelines use; the hand-written YAML passes yamllint.
//!
//! Needs what `scripts/setup-deploy-tools.sh` installs (helm in /opt/kotel-test/bin,
//! kubernetes-validate and yamllint in /opt/kotel-test/venv) and `target/debug/kotel`;
//! fails, naming the command to run, when they are missing. No root needed.

#[path = "deploy_chart/docs.rs"]
mod docs;
#[path = "deploy_chart/rendering.rs"]
mod rendering;
#[path = "deploy_chart/tools.rs"]
mod tools;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use docs::{container, of_kind, one, parse_all, pod_env, selects, strings, Doc};
use kotel::config::{ExporterConfig, ProcessorConfig};
use kotel::processors::k8s_cri::discovery;
use kotel_integration_tests::repo_root;
use rendering::{
    cri_host_path, host_mounts, k8s_cri, on_host, parsed, renderings, sidecar_docs,
    tcp_cgroup_root, values_files, Rendering,
};

/// The capabilities the chart always adds (values.yaml `capabilities`, deploy/README.md).
const BASE_CAPABILITIES: &[&str] = &["BPF", "PERFMON"];
/// Every capability the chart can add by a documented switch.
const OPTIONAL_CAPABILITIES: &[&str] = &["SYS_PTRACE", "DAC_READ_SEARCH", "SYS_RESOURCE"];
/// Kinds of the prometheus-operator CRDs, which kubernetes-validate has no schema for.
const OPERATOR_API: &str = "monitoring.coreos.com/v1";

#[test]
fn helm_lint_passes_with_default_and_ci_values_also_strict() {
    let chart = tools::chart_dir();
    let mut runs: Vec<Vec<String>> = vec![vec![]];
    runs.extend(
        values_files()
            .iter()
            .map(|f| vec!["--values".into(), f.display().to_string()]),
    );
    for values in runs {
        for strict in [false, true] {
            let mut command = Command::new(tools::helm());
            command.arg("lint").arg(&chart).args(&values);
            if strict {
                command.arg("--strict");
            }
            let out = tools::run_ok(&mut command);
            assert!(
                out.contains("1 chart(s) linted, 0 chart(s) failed"),
                "{command:?}:\n{out}"
            );
            assert!(
                !out.contains("[WARNING]") && !out.contains("[ERROR]"),
                "{out}"
            );
        }
    }
}

#[test]
fn every_rendering_and_the_sidecar_validate_against_the_kubernetes_schemas() {
    for r in renderings() {
        let (operator, builtin): (Vec<&Doc>, Vec<&Doc>) =
            r.docs.iter().partition(|d| d.api_version() == OPERATOR_API);
        let manifests: Vec<&str> = builtin.iter().map(|d| d.raw.as_str()).collect();
        let report = tools::kubernetes_validate_ok(&manifests.join("---\n"), &r.case);
        assert_eq!(
            report.matches(" passed for resource ").count(),
            builtin.len(),
            "{}: not every document was validated:\n{report}",
            r.case
        );
        for doc in operator {
            check_operator_resource(&r, doc);
        }
        // A ServiceMonitor exists only with the values that ask for one.
        let monitors =
            of_kind(&r.docs, "ServiceMonitor").len() + of_kind(&r.docs, "PodMonitor").len();
        let wanted = [
            r.flag("/prometheus/serviceMonitor/enabled", false),
            r.flag("/prometheus/podMonitor/enabled", false),
        ];
        assert_eq!(
            monitors,
            wanted.iter().filter(|w| **w).count(),
            "{}",
            r.case
        );
    }
    let sidecar =
        std::fs::read_to_string(repo_root().join("deploy/manifests/sidecar-example.yaml")).unwrap();
    let report = tools::kubernetes_validate_ok(&sidecar, "sidecar-example.yaml");
    assert_eq!(
        report.matches(" passed for resource ").count(),
        2,
        "{report}"
    );
}

#[test]
fn daemonset_is_unprivileged_with_exactly_the_documented_capabilities() {
    let readme = std::fs::read_to_string(repo_root().join("deploy/README.md")).unwrap();
    for r in renderings() {
        let case = &r.case;
        let pod = r.pod_spec();
        for host_namespace in ["hostNetwork", "hostPID", "hostIPC"] {
            assert!(
                pod.get(host_namespace).is_none_or(|v| v == false),
                "{case}: {host_namespace}"
            );
        }
        assert_eq!(pod["automountServiceAccountToken"], false, "{case}");
        let sc = &r.kotel()["securityContext"];
        assert!(
            sc.get("privileged").is_none_or(|v| v == false),
            "{case}: privileged"
        );
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{case}");
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{case}");
        assert_eq!(sc["runAsUser"], 0, "{case}");
        assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{case}");
        let added = strings(&sc["capabilities"]["add"]);
        let mut expected: Vec<&str> = BASE_CAPABILITIES.to_vec();
        if r.flag("/capabilities/watchContainers", true) {
            expected.extend(["SYS_PTRACE", "DAC_READ_SEARCH"]);
        }
        if r.flag("/capabilities/sysResource", false) {
            expected.push("SYS_RESOURCE");
        }
        assert_eq!(added, expected, "{case}: added capabilities");
        let seccomp = r
            .values
            .pointer("/seccompProfile/type")
            .and_then(Value::as_str)
            .unwrap_or("Unconfined");
        assert_eq!(sc["seccompProfile"]["type"], seccomp, "{case}");
        // Nothing in the pod spec grants more (a pod-level securityContext could).
        assert!(
            pod.get("securityContext")
                .is_none_or(|p| p.get("sysctls").is_none()),
            "{case}"
        );
    }
    // Every capability the chart can add is explained in deploy/README.md's table.
    for cap in BASE_CAPABILITIES.iter().chain(OPTIONAL_CAPABILITIES) {
        assert!(
            readme.lines().any(|l| l.starts_with(&format!("| `{cap}`"))),
            "deploy/README.md has no table row for {cap}"
        );
    }
}

#[test]
fn host_mounts_are_read_only_directories_covering_what_kotel_reads() {
    for r in renderings() {
        let case = &r.case;
        let mounts = r.host_mounts();
        assert!(!mounts.is_empty(), "{case}");
        for m in &mounts {
            assert!(
                m.read_only,
                "{case}: {} is not mounted read-only",
                m.mount_path
            );
            assert_eq!(
                m.kind, "Directory",
                "{case}: hostPath type of {}",
                m.host_path
            );
            assert!(!m.sub_path, "{case}: {} uses subPath", m.mount_path);
            assert!(
                ["None", "HostToContainer"].contains(&m.propagation.as_str()),
                "{case}: {} propagation {}",
                m.mount_path,
                m.propagation
            );
        }
        for m in r.kotel()["volumeMounts"].as_array().unwrap() {
            assert_eq!(
                m["readOnly"], true,
                "{case}: mount {} is writable",
                m["mountPath"]
            );
        }
        // What kotel opens, from the rendered config through kotel's own code.
        let config = r.config();
        let cri = k8s_cri(&config);
        let sockets = discovery::candidates(cri);
        let reachable: Vec<&PathBuf> = sockets
            .iter()
            .filter(|s| on_host(&mounts, s).is_some_and(|h| h == cri_host_path(s, cri)))
            .collect();
        assert!(
            !reachable.is_empty(),
            "{case}: no runtime socket kotel probes is mounted: {sockets:?}"
        );
        if r.values.pointer("/hostMounts/runtimeDirs").is_none() {
            // The default mounts every /run socket of every runtime kotel knows.
            for s in sockets.iter().filter(|s| s.starts_with("/host/run")) {
                assert!(
                    reachable.contains(&s),
                    "{case}: {} is not mounted",
                    s.display()
                );
            }
        }
        let host = |p: &Path| {
            on_host(&mounts, p)
                .unwrap_or_else(|| panic!("{case}: {} is not a host mount", p.display()))
        };
        assert_eq!(
            host(&cri.cgroup_root),
            Path::new("/sys/fs/cgroup"),
            "{case}: k8s_cri.cgroup_root"
        );
        assert_eq!(
            host(&tcp_cgroup_root(&config)),
            Path::new("/sys/fs/cgroup"),
            "{case}: tcp.cgroup_root"
        );
        assert_eq!(
            host(&cri.on_host("/proc")),
            Path::new("/proc"),
            "{case}: /proc under host_root"
        );
        assert_eq!(
            host(Path::new("/sys/kernel/tracing")),
            Path::new("/sys/kernel/tracing"),
            "{case}"
        );
        let btf = Path::new(kotel::kernel::btf::VMLINUX);
        if r.flag("/hostMounts/btf", true) {
            assert_eq!(host(btf), btf, "{case}");
        } else {
            assert!(on_host(&mounts, btf).is_none(), "{case}");
        }
        // The root filesystem is read-only and nothing else is writable: no emptyDir.
        for v in r.pod_spec()["volumes"].as_array().unwrap() {
            assert!(v.get("emptyDir").is_none(), "{case}: {v}");
        }
    }
}

#[test]
fn node_name_comes_from_the_downward_api() {
    for r in renderings() {
        let env = r.kotel()["env"].as_array().unwrap();
        let node = env
            .iter()
            .find(|e| e["name"] == "K8S_NODE_NAME")
            .unwrap_or_else(|| panic!("{}: no K8S_NODE_NAME", r.case));
        assert_eq!(
            node["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName",
            "{}",
            r.case
        );
        assert_eq!(
            k8s_cri(&r.config()).resolved_node_name(),
            "node-1",
            "{}",
            r.case
        );
    }
}

#[test]
fn pipeline_config_map_is_mounted_as_a_directory_and_reloaded_without_restarts() {
    for r in renderings() {
        let case = &r.case;
        let name = r.config_map()["metadata"]["name"].as_str().unwrap();
        let volume = r.pod_spec()["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["configMap"]["name"] == name)
            .unwrap_or_else(|| panic!("{case}: no volume of ConfigMap {name}"));
        let mounts: Vec<&Value> = r.kotel()["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["name"] == volume["name"])
            .collect();
        assert_eq!(mounts.len(), 1, "{case}");
        assert_eq!(mounts[0]["mountPath"], "/etc/kotel", "{case}");
        assert!(
            mounts[0].get("subPath").is_none() && mounts[0].get("subPathExpr").is_none(),
            "{case}: subPath mounts never update"
        );
        assert!(volume["configMap"].get("items").is_none(), "{case}");
        let args = strings(&r.kotel()["args"]);
        assert_eq!(
            args,
            ["run", "--config", "/etc/kotel/pipeline.yaml"],
            "{case}"
        );
        let annotations = &r.daemonset()["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(
            annotations.get("checksum/config").is_some(),
            r.flag("/restartOnConfigChange", false),
            "{case}: checksum/config only when restartOnConfigChange"
        );
    }
}

#[test]
fn otlp_header_values_never_reach_the_config_map() {
    let mut saw_chart_secret = false;
    let mut saw_existing_secret = false;
    for r in renderings() {
        let case = &r.case;
        let config_map = one(&r.docs, "ConfigMap", case).raw.clone();
        let env = r.env();
        let container_env = r.kotel()["env"].as_array().unwrap();
        let headers: Vec<&Value> = container_env
            .iter()
            .filter(|e| {
                e["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("KOTEL_OTLP_HEADER_")
            })
            .collect();
        let config = r.config();
        let otlp: Vec<_> = config
            .exporters
            .values()
            .filter_map(|e| match e {
                ExporterConfig::Otlp(o) => Some(o),
                _ => None,
            })
            .collect();
        assert!(!otlp.is_empty(), "{case}");
        for var in &headers {
            let name = var["name"].as_str().unwrap();
            let value = &env[name];
            assert!(
                config_map.contains(&format!("\"${{env:{name}}}\"")),
                "{case}: the pipeline does not refer to {name}"
            );
            assert!(
                !config_map.contains(value.as_str()),
                "{case}: the value of {name} is in the ConfigMap"
            );
            assert!(
                !config_map.contains(&docs::base64_encode(value.as_bytes())),
                "{case}: {name} base64 in the ConfigMap"
            );
            // kotel reads back exactly the value, whatever it holds (": ", " #").
            for o in &otlp {
                assert!(
                    o.headers.values().any(|v| v == value),
                    "{case}: {name} not among {:?}",
                    o.headers.keys()
                );
            }
            if let Some(secret) = var["valueFrom"]["secretKeyRef"].as_object() {
                let rendered = of_kind(&r.docs, "Secret")
                    .into_iter()
                    .any(|d| d.name() == secret["name"]);
                saw_chart_secret |= rendered;
                saw_existing_secret |= !rendered;
            }
        }
        // Every Secret value the rendering holds stays out of the ConfigMap.
        for secret in of_kind(&r.docs, "Secret") {
            for key in secret.value["data"].as_object().unwrap().keys() {
                let value = docs::secret_value(&secret.value, key);
                assert!(
                    !config_map.contains(&value),
                    "{case}: Secret key {key} in the ConfigMap"
                );
            }
        }
    }
    assert!(
        saw_chart_secret && saw_existing_secret,
        "the CI values must cover a chart-made and an existing Secret"
    );
}

#[test]
fn rendered_pipelines_pass_kotel_validate_with_the_pods_environment() {
    for r in renderings() {
        let ran = tools::kotel_validate(&r.pipeline(), &r.env());
        assert!(
            ran.ok && ran.stdout.contains("valid"),
            "{}: kotel validate:\n{}\n{}",
            r.case,
            ran.both(),
            r.pipeline()
        );
    }
}

#[test]
fn sidecar_keeps_its_own_pod_with_the_daemonsets_privileges() {
    let docs = sidecar_docs();
    let deployment = &one(&docs, "Deployment", "sidecar").value;
    let kotel = container(deployment, "kotel");
    let env = pod_env(kotel, &docs);
    for (name, field) in [
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
        ("K8S_NODE_NAME", "spec.nodeName"),
    ] {
        let var = kotel["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap();
        assert_eq!(var["valueFrom"]["fieldRef"]["fieldPath"], field, "{name}");
    }
    let map = one(&docs, "ConfigMap", "sidecar");
    let pipeline = map.value["data"]["pipeline.yaml"].as_str().unwrap();
    let ran = tools::kotel_validate(pipeline, &env);
    assert!(
        ran.ok && ran.stdout.contains("valid"),
        "sidecar: kotel validate:\n{}",
        ran.both()
    );

    let config = parsed(pipeline, &env, "sidecar");
    let filters: Vec<_> = config
        .processors
        .iter()
        .filter_map(|(id, p)| match p {
            ProcessorConfig::Filter(f) => Some((id, f)),
            _ => None,
        })
        .collect();
    assert_eq!(filters.len(), 1);
    let (filter_id, filter) = filters[0];
    assert_eq!(filter.include.namespaces, [env["POD_NAMESPACE"].clone()]);
    assert_eq!(filter.include.pods, [env["POD_NAME"].clone()]);
    for (id, pipeline) in &config.pipelines {
        let kinds: Vec<&str> = pipeline.processors.iter().map(|p| p.kind()).collect();
        let at = |kind: &str| kinds.iter().position(|k| *k == kind);
        let filter_at = pipeline.processors.iter().position(|p| p == filter_id);
        let filter_at =
            filter_at.unwrap_or_else(|| panic!("pipeline {id} does not filter to the pod"));
        assert!(
            at("k8s_cri").is_some_and(|k| k < filter_at),
            "{id}: filter before k8s_cri"
        );
        assert!(
            at("aggregate").is_none_or(|a| filter_at < a),
            "{id}: filter after aggregate"
        );
    }
    // The same privileges and host mounts as the chart's DaemonSet.
    let chart = Rendering::new(None);
    assert_eq!(
        kotel["securityContext"]["capabilities"],
        chart.kotel()["securityContext"]["capabilities"]
    );
    for key in [
        "allowPrivilegeEscalation",
        "readOnlyRootFilesystem",
        "runAsUser",
        "privileged",
        "seccompProfile",
    ] {
        assert_eq!(
            kotel["securityContext"][key],
            chart.kotel()["securityContext"][key],
            "{key}"
        );
    }
    let mut sidecar_mounts = host_mounts(&deployment["spec"]["template"]["spec"], kotel);
    let mut chart_mounts = chart.host_mounts();
    sidecar_mounts.sort();
    chart_mounts.sort();
    assert_eq!(sidecar_mounts, chart_mounts);
    let config_mount = kotel["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/etc/kotel")
        .unwrap();
    assert!(config_mount.get("subPath").is_none());
    assert_eq!(
        strings(&kotel["args"]),
        ["run", "--config", "/etc/kotel/pipeline.yaml"]
    );
}

#[test]
fn plain_manifests_are_a_fresh_render_of_the_chart() {
    let committed_path = repo_root().join("deploy/manifests/kotel.yaml");
    let committed = std::fs::read_to_string(&committed_path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fresh_path = dir.path().join("kotel.yaml");
    tools::run_ok(
        Command::new("bash")
            .arg(repo_root().join("deploy/render-manifests.sh"))
            .arg(&fresh_path)
            .env("HELM", tools::helm()),
    );
    let fresh = std::fs::read_to_string(&fresh_path).unwrap();
    if committed != fresh {
        let line = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .map_or(committed.lines().count().min(fresh.lines().count()), |i| i);
        panic!(
            "{} differs from a fresh render from line {}: run `bash deploy/render-manifests.sh`\ncommitted: {:?}\nfresh:     {:?}",
            committed_path.display(),
            line + 1,
            committed.lines().nth(line),
            fresh.lines().nth(line)
        );
    }
    // And it holds what a cluster needs: the namespace, admitted as privileged.
    let docs = parse_all(&committed, "kotel.yaml");
    let namespace = one(&docs, "Namespace", "kotel.yaml");
    assert_eq!(
        namespace.value["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
    tools::kubernetes_validate_ok(&committed, "deploy/manifests/kotel.yaml");
}

#[test]
fn gateway_pipelines_use_only_defined_components() {
    let path = repo_root().join("deploy/otel-collector/gateway.yaml");
    let gateway: Value = yaml_serde::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let defined = |section: &str| -> BTreeSet<String> {
        gateway[section]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let pipelines = gateway["service"]["pipelines"]
        .as_object()
        .expect("service.pipelines");
    for signal in ["metrics", "logs", "traces"] {
        assert!(pipelines.contains_key(signal), "no {signal} pipeline");
    }
    for (name, pipeline) in pipelines {
        for (section, key) in [
            ("receivers", "receivers"),
            ("processors", "processors"),
            ("exporters", "exporters"),
        ] {
            let ids = strings(&pipeline[key]);
            assert!(
                section == "processors" || !ids.is_empty(),
                "pipeline {name} has no {key}"
            );
            for id in &ids {
                assert!(
                    defined(section).contains(id),
                    "pipeline {name} uses {section} {id:?}, which is not defined"
                );
            }
            used.entry(section).or_default().extend(ids);
        }
        let processors = strings(&pipeline["processors"]);
        assert_eq!(
            processors.first().map(String::as_str),
            Some("memory_limiter"),
            "{name}: memory_limiter first"
        );
        assert_eq!(
            processors.last().map(String::as_str),
            Some("batch"),
            "{name}: batch last"
        );
        assert!(
            strings(&pipeline["receivers"]).contains(&"otlp".to_string()),
            "{name}"
        );
    }
    for id in strings(&gateway["service"]["extensions"]) {
        assert!(
            defined("extensions").contains(&id),
            "extension {id} is not defined"
        );
    }
    for section in ["receivers", "processors", "exporters"] {
        assert_eq!(
            defined(section),
            used[section],
            "{section} defined but unused"
        );
    }
    let protocols = &gateway["receivers"]["otlp"]["protocols"];
    assert_eq!(protocols["grpc"]["endpoint"], "0.0.0.0:4317");
    assert_eq!(protocols["http"]["endpoint"], "0.0.0.0:4318");
}

#[test]
fn prometheus_switch_and_tolerations_follow_the_values() {
    for r in renderings() {
        let case = &r.case;
        let served = r.flag("/prometheus/enabled", true);
        let config = r.config();
        let prometheus: Vec<_> = config
            .exporters
            .values()
            .filter_map(|e| match e {
                ExporterConfig::Prometheus(p) => Some(p),
                _ => None,
            })
            .collect();
        let kotel = r.kotel();
        if served {
            assert_eq!(prometheus.len(), 1, "{case}");
            assert_eq!(prometheus[0].listen, "0.0.0.0:9464", "{case}");
            assert_eq!(kotel["ports"][0]["name"], "metrics", "{case}");
            assert_eq!(kotel["ports"][0]["containerPort"], 9464, "{case}");
            for probe in ["livenessProbe", "readinessProbe"] {
                let p = &kotel[probe];
                let port = if p.get("httpGet").is_some() {
                    &p["httpGet"]["port"]
                } else {
                    &p["tcpSocket"]["port"]
                };
                assert_eq!(port, "metrics", "{case}: {probe}");
            }
        } else {
            assert!(prometheus.is_empty(), "{case}");
            assert!(
                config
                    .pipelines
                    .values()
                    .all(|p| p.exporters.iter().all(|e| e.kind() != "prometheus")),
                "{case}"
            );
            for key in ["ports", "livenessProbe", "readinessProbe"] {
                assert!(
                    kotel.get(key).is_none(),
                    "{case}: {key} without the endpoint"
                );
            }
            for kind in ["Service", "ServiceMonitor", "PodMonitor"] {
                assert!(of_kind(&r.docs, kind).is_empty(), "{case}: {kind}");
            }
        }
        let tolerations = r.pod_spec()["tolerations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let catch_all = tolerations
            .iter()
            .any(|t| t["operator"] == "Exists" && t.get("key").is_none());
        assert_eq!(
            catch_all,
            r.flag("/tolerateAllTaints", true),
            "{case}: the catch-all toleration"
        );
        let listed = r
            .values
            .pointer("/tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for t in &listed {
            assert!(tolerations.contains(t), "{case}: {t} missing");
        }
        assert_eq!(
            tolerations.len(),
            listed.len() + usize::from(catch_all),
            "{case}: {tolerations:?}"
        );
    }
}

#[test]
fn chart_refuses_conflicting_or_unusable_values() {
    for (args, expected) in [
        (
            &[
                "--set",
                "otlp.headers.x-api-key=a",
                "--set",
                "otlp.secretHeaders.X_API_KEY=b",
            ][..],
            "are the same header",
        ),
        (
            &["--set", "otlp.existingSecret.headers.authorization=token"][..],
            "otlp.existingSecret.name is empty",
        ),
        (
            &[
                "--set",
                "prometheus.enabled=false",
                "--set",
                "prometheus.serviceMonitor.enabled=true",
            ][..],
            "needs prometheus.enabled",
        ),
        (
            &["--set-string", "otlp.headers.bad\\.name=x"][..],
            "'bad.name' does not match pattern",
        ),
        (
            &["--set", "capabilities.extra[0]=SYS_ADMIN"][..],
            "/capabilities/extra/0",
        ),
        (
            &["--set", "hostMounts.runtimeDirs[0]=run"][..],
            "/hostMounts/runtimeDirs/0",
        ),
        (
            &["--set", "seccompProfile.type=Privileged"][..],
            "/seccompProfile/type",
        ),
    ] {
        let ran = tools::helm_template(None, args);
        assert!(!ran.ok, "helm template {args:?} should fail");
        assert!(
            ran.stderr.contains(expected),
            "helm template {args:?}: expected {expected:?} in:\n{}",
            ran.stderr
        );
    }
}

#[test]
fn hand_written_yaml_passes_yamllint() {
    let chart = tools::chart_dir();
    let mut files = vec![
        chart.join("Chart.yaml"),
        chart.join("values.yaml"),
        repo_root().join("deploy/manifests/sidecar-example.yaml"),
        repo_root().join("deploy/otel-collector/gateway.yaml"),
    ];
    files.extend(values_files());
    let config = "{extends: default, rules: {line-length: {max: 100}, document-start: disable, comments: {min-spaces-from-content: 1}}}";
    let ran = tools::run(
        Command::new(tools::yamllint())
            .args(["--strict", "-d", config])
            .args(&files),
    );
    assert!(ran.ok, "yamllint:\n{}", ran.both());
}

/// What can be checked of a prometheus-operator resource without its CRD schema: only
/// known top-level fields, a selector that picks the kotel pods (or the Service that
/// does), and an endpoint on the port the kotel container names `metrics`.
fn check_operator_resource(r: &Rendering, doc: &Doc) {
    let v = &doc.value;
    let what = format!("{}: {} {}", r.case, doc.kind(), doc.name());
    let top: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        top,
        BTreeSet::from(["apiVersion", "kind", "metadata", "spec"]),
        "{what}"
    );
    assert_eq!(v["metadata"]["namespace"], tools::NAMESPACE, "{what}");
    assert_eq!(
        strings(&v["spec"]["namespaceSelector"]["matchNames"]),
        [tools::NAMESPACE],
        "{what}"
    );
    let pod_labels = &r.daemonset()["spec"]["template"]["metadata"]["labels"];
    let selector = &v["spec"]["selector"]["matchLabels"];
    let port_names: Vec<&Value> = r.kotel()["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    let endpoints = match doc.kind() {
        "ServiceMonitor" => {
            let services = of_kind(&r.docs, "Service");
            let service = services
                .iter()
                .find(|s| selects(selector, &s.value["metadata"]["labels"]))
                .unwrap_or_else(|| panic!("{what}: selects no Service of the release"));
            assert!(
                selects(&service.value["spec"]["selector"], pod_labels),
                "{what}: the Service selects no kotel pod"
            );
            let ports = service.value["spec"]["ports"].as_array().unwrap();
            for p in ports {
                assert!(
                    port_names.contains(&&p["targetPort"]),
                    "{what}: Service targetPort {} is no container port",
                    p["targetPort"]
                );
            }
            let names: Vec<&Value> = ports.iter().map(|p| &p["name"]).collect();
            let endpoints = v["spec"]["endpoints"].as_array().unwrap();
            for e in endpoints {
                assert!(
                    names.contains(&&e["port"]),
                    "{what}: endpoint port {} is not a Service port",
                    e["port"]
                );
            }
            endpoints
        }
        "PodMonitor" => {
            assert!(
                selects(selector, pod_labels),
                "{what}: selects no kotel pod"
            );
            let endpoints = v["spec"]["podMetricsEndpoints"].as_array().unwrap();
            for e in endpoints {
                assert!(
                    port_names.contains(&&e["port"]),
                    "{what}: endpoint port {} is no container port",
                    e["port"]
                );
            }
            endpoints
        }
        other => panic!("{what}: unexpected {OPERATOR_API} kind {other}"),
    };
    assert!(!endpoints.is_empty(), "{what}");
    for e in endpoints {
        assert_eq!(e["path"], "/metrics", "{what}");
    }
}
