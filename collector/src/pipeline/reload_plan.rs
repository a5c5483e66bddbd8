//! What a new configuration restarts: the components whose configuration changed, and
//! the pipelines whose processors changed (see [`Graph::apply`](super::graph::Graph::apply)).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::{ComponentId, Config, PipelineId, RuntimeConfig};

/// What a reload restarts, by kind.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Restarted {
    /// Sources stopped, started or both.
    pub sources: BTreeSet<ComponentId>,
    /// Pipelines stopped, started or both.
    pub pipelines: BTreeSet<PipelineId>,
    /// Exporters stopped, started or both.
    pub exporters: BTreeSet<ComponentId>,
}

impl Restarted {
    /// Every component of `config`.
    pub fn everything(config: &Config) -> Self {
        Self {
            sources: config.sources.keys().cloned().collect(),
            pipelines: config.pipelines.keys().cloned().collect(),
            exporters: config.exporters.keys().cloned().collect(),
        }
    }

    /// What going from `old` to `new` restarts: exporters and sources added, removed or
    /// configured differently; pipelines added, removed, or whose processor list or the
    /// config of one of whose processors differ (a pipeline whose sources or exporters
    /// alone changed is re-routed, not restarted).
    pub fn plan(old: &Config, new: &Config) -> Self {
        let processors_of = |config: &Config, id: &PipelineId| {
            config.pipelines.get(id).map(|p| {
                p.processors
                    .iter()
                    .map(|p| (p.clone(), config.processors.get(p).cloned()))
                    .collect::<Vec<_>>()
            })
        };
        let pipelines = old
            .pipelines
            .keys()
            .chain(new.pipelines.keys())
            .filter(|id| {
                let (before, after) = (processors_of(old, id), processors_of(new, id));
                before.is_none() || after.is_none() || before != after
            })
            .cloned()
            .collect();
        Self {
            sources: changed(&old.sources, &new.sources),
            pipelines,
            exporters: changed(&old.exporters, &new.exporters),
        }
    }
}

/// True when going from `old` to `new` restarts every component: a `runtime` setting
/// the running components were built with changed (every one but `reload_interval`).
pub fn restarts_everything(old: &Config, new: &Config) -> bool {
    let built_with = |runtime: &RuntimeConfig| RuntimeConfig {
        reload_interval: Duration::ZERO,
        ..runtime.clone()
    };
    built_with(&old.runtime) != built_with(&new.runtime)
}

/// Ids added, removed or configured differently.
fn changed<V: PartialEq>(
    old: &BTreeMap<ComponentId, V>,
    new: &BTreeMap<ComponentId, V>,
) -> BTreeSet<ComponentId> {
    old.keys()
        .chain(new.keys())
        .filter(|id| old.get(id) != new.get(id))
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "reload_plan_tests.rs"]
mod tests;
