//! `kotel doctor`: what the running kernel offers kotel, whether the configured sources
//! can run here, and which container runtime each `k8s_cri` processor would talk to.
//!
//! Contract: [`examine`] only reads (files under /sys and /proc, `bpf()` feature probes)
//! and loads each configured program into the verifier exactly as its source would,
//! closing it at once: nothing is attached and nothing lasts. It never fails: every
//! finding is a [`Finding`] with a status. [`Report::can_run`] is false when a configured
//! source lacks something it cannot do without or the kernel rejects one of its programs;
//! `kotel doctor` then exits non-zero with a sentence saying what.
//!
//! The doctor knows no component: it asks each configured one for its own checks
//! ([`crate::component::kind`]'s `checkup`).

pub use crate::component::checkup::{Finding, Report, Status};
pub use crate::kernel::checkup::programs::check as check_programs;

use crate::component::kind::Shared;
use crate::config::{ComponentId, Config, ProcessorConfig, SourceConfig};
use crate::processors::k8s_cri::K8sCriConfig;
use crate::sources::{
    exec::ExecSourceConfig, file_open::FileOpenSourceConfig, tcp::TcpSourceConfig,
};

/// The components `kotel doctor` examines.
type Examined = (
    Vec<(ComponentId, SourceConfig)>,
    Vec<(ComponentId, ProcessorConfig)>,
);

/// What to examine without a config: one of each kernel source with its defaults
/// (`file_open` watching `/etc/shadow`) and a `k8s_cri` processor with its defaults.
fn without_config() -> Examined {
    let id = |s: &str| s.parse::<ComponentId>().expect("a valid id");
    let sources = vec![
        (id("tcp"), SourceConfig::Tcp(TcpSourceConfig::default())),
        (id("exec"), SourceConfig::Exec(ExecSourceConfig::default())),
        (
            id("file_open"),
            SourceConfig::FileOpen(FileOpenSourceConfig {
                paths: vec!["/etc/shadow".into()],
                ..FileOpenSourceConfig::default()
            }),
        ),
    ];
    let processors = vec![(
        id("k8s_cri"),
        ProcessorConfig::K8sCri(K8sCriConfig::default()),
    )];
    (sources, processors)
}

/// Examines this machine for `config` (see `without_config` when `None`): the kernel's
/// features, then each source's checks (a kernel source: its hooks and the verifier's
/// verdict on each of its programs), then each processor's (`k8s_cri`: the container
/// runtime).
pub fn examine(config: Option<&Config>) -> Report {
    let (sources, processors): Examined = match config {
        Some(c) => (
            c.sources.clone().into_iter().collect(),
            c.processors.clone().into_iter().collect(),
        ),
        None => without_config(),
    };
    let mut report = Report::default();
    let shared = Shared::default();
    crate::kernel::checkup::features::kernel(&mut report);
    for (id, source) in &sources {
        source.declared().checkup(id, &mut report, &shared);
    }
    for (id, processor) in &processors {
        processor.declared().checkup(id, &mut report, &shared);
    }
    report
}
