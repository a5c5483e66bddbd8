//! What every kernel source shares: built from its config without touching the kernel,
//! a filter that can be replaced while it runs, and a `run` that loads, attaches, reads
//! and detaches. Each source supplies only its [`KernelProgram`].

use tokio::sync::watch;

use crate::config::ComponentId;
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, Source, SourceOutput};
use crate::sources::kernel_filter::{FilterUpdates, KernelFilterConfig};

/// One kind of kernel source (`tcp`, `exec`, `file_open`).
pub trait KernelProgram: Send + 'static {
    /// Its configuration.
    type Config: Clone + Send + Sync + 'static;

    /// The kernel filter the source starts with.
    fn filter(config: &Self::Config) -> &KernelFilterConfig;

    /// Loads and attaches the programs, reads until `shutdown`, then detaches; see
    /// [`Source::run`]. `source` is the component id (the `source` label of its metrics).
    fn run(
        source: String,
        config: Self::Config,
        out: SourceOutput,
        shutdown: Shutdown,
        filter_updates: FilterUpdates,
    ) -> BoxFuture<'static, Result<(), ComponentError>>;
}

/// A kernel source, built from its config; attaches to the kernel only in `run`.
pub struct KernelSource<K: KernelProgram> {
    id: ComponentId,
    config: K::Config,
    filter_updates: FilterUpdates,
}

impl<K: KernelProgram> KernelSource<K> {
    /// A source for `id` with `config`; no kernel access.
    pub fn new(id: &ComponentId, config: &K::Config) -> Self {
        Self {
            id: id.clone(),
            config: config.clone(),
            filter_updates: FilterUpdates::none(),
        }
    }

    /// A handle that replaces the kernel filter while the source runs (no reload); the
    /// source starts with the filter of its config.
    pub fn filter_control(&mut self) -> watch::Sender<KernelFilterConfig> {
        let (tx, updates) = FilterUpdates::channel(K::filter(&self.config).clone());
        self.filter_updates = updates;
        tx
    }

    /// The component id this source was built for.
    pub fn id(&self) -> &ComponentId {
        &self.id
    }
}

impl<K: KernelProgram> Source for KernelSource<K> {
    fn run(
        self: Box<Self>,
        out: SourceOutput,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        let this = *self;
        K::run(
            this.id.to_string(),
            this.config,
            out,
            shutdown,
            this.filter_updates,
        )
    }
}
