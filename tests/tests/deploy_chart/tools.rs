//! The offline tools the deploy tests drive (installed by `scripts/setup-deploy-tools.sh`:
//! helm, kubernetes-validate, yamllint) and the agent's own `kotel validate`. A missing
//! tool fails the test with the command that installs it: these tests never skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kotel_integration_tests::{kotel_binary, repo_root};

const SETUP_HINT: &str =
    "run `bash scripts/setup-deploy-tools.sh` as root (helm, kubectl, kubernetes-validate, yamllint)";

/// The Kubernetes version every manifest is validated against and rendered for.
pub const KUBE_VERSION: &str = "1.33.0";
/// Release name and namespace of every rendering (as deploy/render-manifests.sh uses).
pub const RELEASE: &str = "kotel";
pub const NAMESPACE: &str = "kotel";

fn bin_dir() -> PathBuf {
    std::env::var_os("KOTEL_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/kotel-test/bin"))
}

fn venv() -> PathBuf {
    std::env::var_os("KOTEL_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/kotel-test/venv"))
}

fn require(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: {SETUP_HINT}",
        path.display()
    );
    path
}

pub fn helm() -> PathBuf {
    require(bin_dir().join("helm"))
}

pub fn kubernetes_validate() -> PathBuf {
    require(venv().join("bin/kubernetes-validate"))
}

pub fn yamllint() -> PathBuf {
    require(venv().join("bin/yamllint"))
}

pub fn chart_dir() -> PathBuf {
    repo_root().join("deploy/helm/kotel")
}

/// What a finished command said.
pub struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

pub fn run(command: &mut Command) -> Ran {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `command`, fails the test with its output unless it succeeds; returns stdout.
pub fn run_ok(command: &mut Command) -> String {
    let ran = run(command);
    assert!(ran.ok, "{command:?} failed:\n{}", ran.both());
    ran.stdout
}

/// `helm template` of the chart with `values` (none: the defaults) and `extra` arguments.
pub fn helm_template(values: Option<&Path>, extra: &[&str]) -> Ran {
    let mut command = Command::new(helm());
    command.args(["template", RELEASE]).arg(chart_dir()).args([
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
    ]);
    if let Some(values) = values {
        command.arg("--values").arg(values);
    }
    run(command.args(extra))
}

/// `kubernetes-validate --strict -k KUBE_VERSION` of `manifests`; fails the test unless
/// every document passed. Returns the tool's report.
pub fn kubernetes_validate_ok(manifests: &str, what: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifests.yaml");
    std::fs::write(&file, manifests).unwrap();
    let ran = run(Command::new(kubernetes_validate())
        .args(["--strict", "-k", KUBE_VERSION])
        .arg(&file));
    let report = ran.both();
    assert!(
        ran.ok && !report.contains("ERROR") && !report.contains("WARN"),
        "{what}: kubernetes-validate --strict -k {KUBE_VERSION} failed:\n{report}"
    );
    report
}

/// `kotel validate` of `pipeline` with exactly `env` as the environment (the pod's);
/// returns whether it passed and what it printed.
pub fn kotel_validate(pipeline: &str, env: &BTreeMap<String, String>) -> Ran {
    let binary = kotel_binary();
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo build --bin kotel` first (scripts/test.sh does)",
        binary.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pipeline.yaml");
    std::fs::write(&file, pipeline).unwrap();
    run(Command::new(binary)
        .arg("validate")
        .arg(&file)
        .env_clear()
        .envs(env))
}
