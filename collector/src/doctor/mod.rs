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

/// The components `kotel doctor` examines.
type Examined = (
    Vec<(ComponentId, SourceConfig)>,
    Vec<(ComponentId, ProcessorConfig)>,
);

/// What to examine without a config: an example of every source and processor type
/// (`file_open` watching `/etc/shadow`), each under its type's name.
fn without_config() -> Examined {
    let id = |kind: &str| kind.parse::<ComponentId>().expect("a type is a valid id");
    let sources = SourceConfig::examples()
        .into_iter()
        .map(|s| (id(s.kind()), s))
        .collect();
    let processors = ProcessorConfig::examples()
        .into_iter()
        .map(|p| (id(p.kind()), p))
        .collect();
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
