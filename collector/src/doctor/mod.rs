//! `kotel doctor`: what the running kernel offers kotel, whether the configured sources
//! can run here, and which container runtime each `k8s_cri` processor would talk to.
//!
//! Contract: [`examine`] only reads (files under /sys and /proc, `bpf()` feature probes
//! that load nothing lasting) and never fails: every finding is a [`Finding`] with a
//! status. [`Report::can_run`] is false when a configured source lacks something it
//! cannot do without; `kotel doctor` then exits non-zero with a sentence saying what.

mod hooks;
mod probes;
mod report;
mod runtime;

pub use report::{Finding, Report, Status};

use crate::config::{Config, ProcessorConfig, SourceConfig};
use crate::processors::k8s_cri::K8sCriConfig;
use hooks::{EXEC, FILE_OPEN, TCP};

/// A kernel hook a source attaches to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hook {
    /// Tracepoint category (`sock`).
    pub category: &'static str,
    /// Tracepoint name (`inet_sock_set_state`).
    pub name: &'static str,
    /// Without it the source cannot start (otherwise it runs with less).
    pub required: bool,
}

/// The hooks each configured source would use, by source id.
fn hooks_of(config: &Config) -> Vec<(String, &'static [Hook])> {
    config
        .sources
        .iter()
        .filter_map(|(id, source)| {
            let hooks: &'static [Hook] = match source {
                SourceConfig::Tcp(_) => TCP,
                SourceConfig::Exec(_) => EXEC,
                SourceConfig::FileOpen(_) => FILE_OPEN,
                SourceConfig::Replay(_) => return None,
            };
            Some((id.to_string(), hooks))
        })
        .collect()
}

/// Examines this machine for `config` (every kernel source when `None`).
pub fn examine(config: Option<&Config>) -> Report {
    let mut report = Report::default();
    probes::kernel(&mut report);
    let sources = match config {
        Some(c) => hooks_of(c),
        None => vec![
            ("tcp".to_string(), TCP),
            ("exec".to_string(), EXEC),
            ("file_open".to_string(), FILE_OPEN),
        ],
    };
    let needs_kernel = !sources.is_empty();
    if needs_kernel {
        probes::privileges(&mut report);
        probes::ring_buffer(&mut report);
    }
    for (id, hooks) in sources {
        probes::source_hooks(&mut report, &id, hooks);
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
