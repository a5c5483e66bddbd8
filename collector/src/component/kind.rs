//! What a component type declares about itself, implemented by its config type in its
//! own folder: its name in ids, the signals it carries, the checks beyond what serde
//! enforces, and how it builds the running component. The config enums
//! (`config::components`) list each type once and dispatch through these traits, so
//! adding a component is its folder plus one registration line there.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::component::checkup::Report;
use crate::component::{Exporter, Processor, Source};
use crate::settings::{ComponentId, ConfigError, Signal};

/// The type as written in ids and as the config enum's serde tag (`tcp` in `tcp/fast`).
/// A test keeps each equal to the tag serde derives from the variant name.
pub trait Kind {
    /// The type's name.
    const KIND: &'static str;
}

/// What every component type states, whatever its role.
pub trait Declared: Send + Sync {
    /// The signals a component of this type can carry; validation refuses a pipeline of
    /// another signal that lists it, with the path.
    fn signals(&self) -> &'static [Signal];

    /// Checks beyond what the types enforce; each path is below the component
    /// (`batch_timeout`, `rules[0]::port`), empty for the component as a whole. Run for
    /// every component whose settings decoded, before anything starts.
    fn validate(&self) -> Vec<ConfigError> {
        Vec::new()
    }

    /// Adds what `kotel doctor` should know about running this component as `id` on
    /// this node (a kernel source: its hooks and the verifier's verdicts; `k8s_cri`: the
    /// container runtime). Only reads; attaches, starts and keeps nothing. `shared` holds
    /// what several components' checks examine once per report.
    fn checkup(&self, id: &ComponentId, report: &mut Report, shared: &Shared) {
        let _ = (id, report, shared);
    }

    /// A config of this type for examining a node without a pipeline file (`kotel doctor`
    /// with no `--config`): the defaults, unless the type needs more to run (a watched
    /// path).
    fn example() -> Self
    where
        Self: Sized + Default,
    {
        Self::default()
    }
}

/// A source type.
pub trait SourceType: Declared {
    /// True when the source loads kernel programs (it needs root or CAP_BPF).
    fn needs_kernel(&self) -> bool {
        false
    }

    /// A fresh instance for `id`; touches nothing outside the process (sources attach or
    /// open files only when they run).
    fn build(&self, id: &ComponentId, shared: &Shared) -> Box<dyn Source>;
}

/// A processor type.
pub trait ProcessorType: Declared {
    /// A fresh instance for `id`, one per pipeline that lists it.
    fn build(&self, id: &ComponentId, shared: &Shared) -> Box<dyn Processor>;
}

/// An exporter type.
pub trait ExporterType: Declared {
    /// True when the agent's self-telemetry snapshots go to this exporter even where it
    /// is in no metrics pipeline (a local view such as the debug exporter's summary line;
    /// a backend behind a logs-only exporter may take nothing but logs).
    fn takes_telemetry_outside_metrics_pipelines(&self) -> bool {
        false
    }

    /// The exporter for `id` (one per id, shared by the pipelines that list it).
    fn build(&self, id: &ComponentId, shared: &Shared) -> Box<dyn Exporter>;
}

/// State that instances of a component type share across builds for as long as the
/// factory that builds them lives (e.g. one CRI connection for every pipeline, and every
/// reload, that keeps a `k8s_cri` processor's config). Each type keeps its own value,
/// keyed by that value's Rust type, so the runtime knows nothing of what is shared.
#[derive(Default)]
pub struct Shared {
    values: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Shared {
    /// The one `T` of this factory, made with `T::default()` on first use.
    pub fn get<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let value = values
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        drop(values);
        value
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("values are keyed by their own TypeId"))
    }
}

#[cfg(test)]
#[path = "kind_tests.rs"]
mod tests;
