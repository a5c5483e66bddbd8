//! `kotel doctor`: what the running kernel offers kotel, whether the configured sources
//! can run here, and which container runtime each `k8s_cri` processor would talk to.
//!
//! Contract: [`examine`] only reads (files under /sys and /proc, `bpf()` feature probes)
//! and loads each configured program into the verifier exactly as its source would,
//! closing it at once: nothing is attached and nothing lasts. It never fails: every
//! finding is a [`Finding`] with a status. [`Report::can_run`] is false when a configured
//! source lacks something it cannot do without or the kernel rejects one of its programs;
//! `kotel doctor` then exits non-zero with a sentence saying what.

mod probes;
mod programs;
mod report;
mod runtime;

pub use programs::check as check_programs;
pub use report::{Finding, Report, Status};

use crate::config::{Config, ProcessorConfig, SourceConfig};
use crate::processors::k8s_cri::K8sCriConfig;
use crate::sources::{
    exec::ExecSourceConfig, file_open::FileOpenSourceConfig, tcp::TcpSourceConfig,
};

/// The kernel sources to examine: the configured ones, or one of each kind with its
/// defaults (watching `/etc/shadow`) when there is no config.
fn kernel_sources(config: Option<&Config>) -> Vec<(String, SourceConfig)> {
    match config {
        Some(c) => c
            .sources
            .iter()
            .map(|(id, s)| (id.to_string(), s.clone()))
            .collect(),
        None => vec![
            ("tcp".into(), SourceConfig::Tcp(TcpSourceConfig::default())),
            (
                "exec".into(),
                SourceConfig::Exec(ExecSourceConfig::default()),
            ),
            (
                "file_open".into(),
                SourceConfig::FileOpen(FileOpenSourceConfig {
                    paths: vec!["/etc/shadow".into()],
                    ..FileOpenSourceConfig::default()
                }),
            ),
        ],
    }
}

/// Examines this machine for `config` (every kernel source when `None`): the kernel's
/// features, then each kernel source's hooks and the verifier's verdict on each of its
/// programs, then the container runtime of each `k8s_cri` processor.
pub fn examine(config: Option<&Config>) -> Report {
    let mut report = Report::default();
    probes::kernel(&mut report);
    let plans: Vec<_> = kernel_sources(config)
        .iter()
        .filter_map(|(id, source)| programs::plan_of(source).map(|plan| (id.clone(), plan)))
        .collect();
    if !plans.is_empty() {
        let may_load = probes::privileges(&mut report);
        probes::ring_buffer(&mut report);
        let btf = crate::kernel::shared_btf::aya();
        for (id, plan) in &plans {
            programs::check(&mut report, id, plan, btf.as_deref(), may_load);
        }
    }
    let default_cri = K8sCriConfig::default();
    let processors: Vec<(String, &K8sCriConfig)> = match config {
        Some(c) => c
            .processors
            .iter()
            .filter_map(|(id, p)| match p {
                ProcessorConfig::K8sCri(cri) => Some((id.to_string(), cri)),
                _ => None,
            })
            .collect(),
        None => vec![("k8s_cri".to_string(), &default_cri)],
    };
    for (id, cri) in processors {
        runtime::check(&mut report, &id, cri);
    }
    report
}
