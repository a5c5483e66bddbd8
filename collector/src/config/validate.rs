//! Checks across sections, on what could be read: references, unused components, signals,
//! component hooks and runtime ranges. Returns every problem; never stops at the first.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::draft::{Draft, DraftPipeline, Section};
use crate::settings::duration;
use crate::settings::error::{join, ConfigError};
use crate::settings::id::ComponentId;
use crate::settings::RuntimeConfig;
use crate::settings::Signal;

/// Every cross-section problem in `draft`, in a stable order: pipelines, unused
/// components, the components' own checks, runtime.
pub(crate) fn check(draft: &Draft) -> Vec<ConfigError> {
    let mut errors = Vec::new();
    check_pipelines(draft, &mut errors);
    check_unused(draft, &mut errors);
    check_components("sources", &draft.sources, |c| c.validate(), &mut errors);
    check_components(
        "processors",
        &draft.processors,
        |c| c.validate(),
        &mut errors,
    );
    check_components("exporters", &draft.exporters, |c| c.validate(), &mut errors);
    if let Some(runtime) = &draft.runtime {
        check_runtime(runtime, &mut errors);
    }
    errors
}

/// One pipeline list to check: its role word, the key in the pipeline, the section it
/// refers to (configured ids, and each decoded component's signals).
struct ListRule<'a> {
    role: &'static str,
    key: &'static str,
    configured: &'a BTreeSet<ComponentId>,
    signals: BTreeMap<&'a ComponentId, &'static [Signal]>,
}

fn check_pipelines(draft: &Draft, errors: &mut Vec<ConfigError>) {
    if draft.pipelines.is_empty() && draft.pipelines_complete {
        errors.push(ConfigError::new(
            "pipelines",
            "no pipeline is configured; add one, e.g. `metrics: {sources: [tcp], exporters: [debug]}`",
        ));
    }
    let rules = [
        rule("source", "sources", &draft.sources, |c| c.signals()),
        rule("processor", "processors", &draft.processors, |c| {
            c.signals()
        }),
        rule("exporter", "exporters", &draft.exporters, |c| c.signals()),
    ];
    for pipeline in &draft.pipelines {
        let lists = [&pipeline.sources, &pipeline.processors, &pipeline.exporters];
        for (rule, list) in rules.iter().zip(lists) {
            let path = join(&pipeline.path, rule.key);
            if list.is_empty() && rule.key != "processors" {
                errors.push(ConfigError::new(
                    &path,
                    format!("a pipeline needs at least one {}", rule.role),
                ));
            }
            let ids: Vec<&ComponentId> = list.iter().flatten().collect();
            let mut seen = BTreeSet::new();
            for &id in &ids {
                if !seen.insert(id) {
                    continue;
                }
                if ids.iter().filter(|x| **x == id).count() > 1 {
                    errors.push(ConfigError::new(
                        &path,
                        format!("lists {} \"{id}\" more than once", rule.role),
                    ));
                }
                if !rule.configured.contains(id) {
                    errors.push(ConfigError::new(
                        &path,
                        format!("references {} \"{id}\", which is not configured", rule.role),
                    ));
                    continue;
                }
                if let (Some(pipeline_id), Some(supports)) = (&pipeline.id, rule.signals.get(id)) {
                    if let Some(message) =
                        signal_mismatch(rule.role, id, supports, pipeline_id.signal())
                    {
                        errors.push(ConfigError::new(&path, message));
                    }
                }
            }
        }
    }
}

fn rule<'a, T>(
    role: &'static str,
    key: &'static str,
    section: &'a Section<T>,
    signals: impl Fn(&T) -> &'static [Signal],
) -> ListRule<'a> {
    ListRule {
        role,
        key,
        configured: &section.configured,
        signals: section
            .parsed
            .iter()
            .map(|(id, c)| (id, signals(c)))
            .collect(),
    }
}

/// The message for a `role` ("source", ...) `id` that supports only `supports` placed in
/// a pipeline of `signal`, or `None` when it fits.
pub(crate) fn signal_mismatch(
    role: &str,
    id: &ComponentId,
    supports: &[Signal],
    signal: Signal,
) -> Option<String> {
    if supports.contains(&signal) {
        return None;
    }
    let supported = match supports {
        [] => "no signal".to_string(),
        [one] => format!("{one} only"),
        many => many
            .iter()
            .map(Signal::to_string)
            .collect::<Vec<_>>()
            .join(" and "),
    };
    Some(format!(
        "{role} \"{id}\" cannot be in a {signal} pipeline: it supports {supported}"
    ))
}

/// `sources::replay: configured but used by no pipeline`, for every configured id no
/// pipeline lists. Skipped when there is no pipeline (one error says so) or some pipeline
/// could not be read (its references are unknown).
fn check_unused(draft: &Draft, errors: &mut Vec<ConfigError>) {
    if draft.pipelines.is_empty() || !draft.pipelines_complete {
        return;
    }
    let used = |pick: fn(&DraftPipeline) -> &Vec<Option<ComponentId>>| {
        draft
            .pipelines
            .iter()
            .flat_map(|p| pick(p).iter().flatten())
            .collect::<BTreeSet<_>>()
    };
    let sections = [
        ("sources", &draft.sources.configured, used(|p| &p.sources)),
        (
            "processors",
            &draft.processors.configured,
            used(|p| &p.processors),
        ),
        (
            "exporters",
            &draft.exporters.configured,
            used(|p| &p.exporters),
        ),
    ];
    for (section, configured, used) in sections {
        for id in configured.iter().filter(|id| !used.contains(id)) {
            errors.push(ConfigError::new(
                format!("{section}::{id}"),
                "configured but used by no pipeline",
            ));
        }
    }
}

/// Runs each decoded component's own `validate()` hook.
fn check_components<T>(
    section: &str,
    components: &Section<T>,
    validate: impl Fn(&T) -> Vec<ConfigError>,
    errors: &mut Vec<ConfigError>,
) {
    for (id, config) in &components.parsed {
        let path = format!("{section}::{id}");
        errors.extend(validate(config).into_iter().map(|e| e.under(&path)));
    }
}

/// Shortest non-zero `runtime.reload_interval`.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_millis(100);

/// Largest `runtime.channel_capacity`: memory stays bounded by what a batch holds.
const MAX_CHANNEL_CAPACITY: usize = 65_536;

fn check_runtime(runtime: &RuntimeConfig, errors: &mut Vec<ConfigError>) {
    if !(1..=MAX_CHANNEL_CAPACITY).contains(&runtime.channel_capacity) {
        errors.push(ConfigError::new(
            "runtime::channel_capacity",
            format!("must be 1 to {MAX_CHANNEL_CAPACITY} (batches)"),
        ));
    }
    if runtime.restart_backoff_initial.is_zero() {
        errors.push(ConfigError::new(
            "runtime::restart_backoff_initial",
            "must be longer than 0s (a failing source would restart in a busy loop)",
        ));
    }
    if runtime.shutdown_timeout == Duration::ZERO {
        errors.push(ConfigError::new(
            "runtime::shutdown_timeout",
            "must be longer than 0s",
        ));
    }
    if !runtime.reload_interval.is_zero() && runtime.reload_interval < MIN_RELOAD_INTERVAL {
        errors.push(ConfigError::new(
            "runtime::reload_interval",
            format!(
                "{} is shorter than {} (0s checks only on SIGHUP)",
                duration::format(runtime.reload_interval),
                duration::format(MIN_RELOAD_INTERVAL)
            ),
        ));
    }
    if runtime.restart_backoff_initial > runtime.restart_backoff_max {
        errors.push(ConfigError::new(
            "runtime::restart_backoff_initial",
            format!(
                "{} is longer than restart_backoff_max ({})",
                duration::format(runtime.restart_backoff_initial),
                duration::format(runtime.restart_backoff_max)
            ),
        ));
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
