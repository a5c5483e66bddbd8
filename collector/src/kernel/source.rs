//! What every kernel source shares: built from its config without touching the kernel,
//! a filter that can be replaced while it runs, and a `run` that loads, attaches, reads
//! and detaches.
//!
//! A source declares itself by implementing [`KernelProgram`] in its folder: how it
//! attaches ([`KernelProgram::attach`]), its ring buffer and stats map
//! ([`KernelProgram::ring`]), how it decodes a record ([`RecordDecoder`]) and what it
//! collects besides records ([`Periodic`]). The read loop, batching, stats, decode-error
//! accounting, filter updates and detaching are this layer's ([`crate::kernel::reader`]);
//! restarts are the runtime's.

use std::time::Duration;

use aya::Ebpf;
use tokio::sync::watch;

use crate::component::checkup::Report;
use crate::component::kind::{Declared, Kind, Shared, SourceType};
use crate::component::{BoxFuture, ComponentError, Shutdown, Source, SourceOutput};
use crate::event::Event;
use crate::kernel::batcher::DecodeFailure;
use crate::kernel::clock::ClockOffset;
use crate::kernel::filter::{FilterUpdates, KernelFilter, KernelFilterConfig};
use crate::kernel::spec::LoadPlan;
use crate::settings::{ComponentId, ConfigError, Signal};

/// A kernel source's maps and counters, named once by the source.
#[derive(Clone, Debug)]
pub struct RingMaps {
    /// Name of the ring buffer map.
    pub events_map: &'static str,
    /// Name of the per-CPU stats array.
    pub stats_map: &'static str,
    /// Metric of the per-stat series (`kotel.source.<type>.kernel_events`).
    pub metric: &'static str,
    /// The `stat` label of each counter, in map-index order.
    pub stats: Vec<&'static str>,
    /// Index of the ring-buffer-full counter (it also feeds `kotel.ebpf.ringbuf.lost`).
    pub ringbuf_full: usize,
}

/// How the reader batches a source's events (every kernel source has these settings).
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Most events per batch.
    pub max_events: usize,
    /// Longest an event waits in a partial batch.
    pub timeout: Duration,
}

/// A loaded object whose programs are attached; they stay attached while this lives.
/// Dropping it drops `held` first, then the filter maps, then the object (detaching).
pub struct Attached<H> {
    /// What the source keeps running beside the object (e.g. `file_open`'s follower).
    pub held: H,
    /// The filter maps, taken out of `ebpf`.
    pub filter: KernelFilter,
    /// The object: ring buffer, stats map and the source's own maps.
    pub ebpf: Ebpf,
}

/// Turns ring-buffer records into events.
pub trait RecordDecoder: Send + 'static {
    /// Appends the events of `record` to `out` (one for most sources; none or several
    /// where records are pieces of a larger event), with kernel times moved to wall-clock
    /// by `clock`; a record that does not decode is a failure (`reason` label, log
    /// message), never a panic.
    fn decode(
        &mut self,
        record: &[u8],
        clock: &ClockOffset,
        out: &mut Vec<Event>,
    ) -> Result<(), DecodeFailure>;
}

/// [`RecordDecoder::decode`] for a decoder that makes exactly one event per record:
/// appends `decoded` wrapped as its event, or turns its error into the failure (`reason`
/// label, message).
pub fn one_event<T, E: std::fmt::Display>(
    decoded: Result<T, E>,
    reason: fn(&E) -> &'static str,
    wrap: fn(T) -> Event,
    out: &mut Vec<Event>,
) -> Result<(), DecodeFailure> {
    let event = decoded.map_err(|e| (reason(&e), e.to_string()))?;
    out.push(wrap(event));
    Ok(())
}

/// Source-specific work the shared loop does besides reading records: events gathered
/// every `interval` (e.g. in-kernel histograms, read and reset) and once more at shutdown,
/// and a notice when the kernel filter changed.
pub trait Periodic: Send + 'static {
    /// How often [`Periodic::collect`] runs; `None` for never.
    fn interval(&self) -> Option<Duration>;
    /// The events of the interval that just ended.
    fn collect(&mut self) -> BoxFuture<'_, Vec<Event>>;
    /// The kernel filter was replaced (drop caches of filter verdicts).
    fn filter_changed(&mut self) {}
}

/// No periodic work.
pub struct NoPeriodic;

impl Periodic for NoPeriodic {
    fn interval(&self) -> Option<Duration> {
        None
    }
    fn collect(&mut self) -> BoxFuture<'_, Vec<Event>> {
        Box::pin(async { Vec::new() })
    }
}

/// One kind of kernel source (`tcp`, `exec`, `file_open`): what it declares into the
/// shared kernel layer.
pub trait KernelProgram: Send + 'static {
    /// Its configuration.
    type Config: KernelSourceConfig<Program = Self>;
    /// What it keeps alive beside the object while it reads.
    type Held: Send + 'static;
    /// Its record decoder.
    type Decoder: RecordDecoder;
    /// Its periodic work ([`NoPeriodic`] for none).
    type Periodic: Periodic;

    /// Its ring buffer, stats map and their counters.
    fn ring() -> RingMaps;

    /// Validates `config`, loads the object, fills the filter and its own maps, and
    /// attaches. Errors: [`ComponentError::Rejected`] when the verifier refuses a program
    /// it depends on (not retried), [`ComponentError::Startup`] otherwise. `source` is the
    /// component id (the `source` label of its metrics). Logs what it attached.
    fn attach(source: &str, config: &Self::Config) -> Result<Attached<Self::Held>, ComponentError>;

    /// The decoder and periodic work for an attached object; may take maps out of it.
    /// `source` is the component id (the `source` label of its metrics).
    fn reader(
        source: &str,
        config: &Self::Config,
        attached: &mut Attached<Self::Held>,
    ) -> Result<(Self::Decoder, Self::Periodic), ComponentError>;
}

/// What a kernel source's config states; its registration as a component type (`Kind`,
/// `Declared` with the doctor's checks of its plan, `SourceType` building a
/// [`KernelSource`]) follows from this, so a kernel source writes none of it.
pub trait KernelSourceConfig: Clone + Default + Send + Sync + 'static {
    /// The program this configures.
    type Program: KernelProgram<Config = Self>;
    /// The type as written in ids (`tcp`).
    const KIND: &'static str;
    /// The signals the source can feed.
    const SIGNALS: &'static [Signal];
    /// Checks beyond what serde enforces; paths below the source.
    fn problems(&self) -> Vec<ConfigError>;
    /// What the source would load on the running kernel (what `kotel doctor` verifies).
    fn plan(&self) -> LoadPlan;
    /// The kernel filter the source starts with.
    fn filter(&self) -> &KernelFilterConfig;
    /// Its batching settings.
    fn batching(&self) -> Batching;
    /// See [`Declared::example`]: the defaults unless overridden.
    fn example() -> Self {
        Self::default()
    }
}

/// The [`KernelSourceConfig::filter`] and [`KernelSourceConfig::batching`] of a config
/// with the fields every kernel source has (`filter`, `batch_max_events`,
/// `batch_timeout`); written inside the `impl KernelSourceConfig` block.
macro_rules! ring_settings {
    () => {
        fn filter(&self) -> &$crate::kernel::filter::KernelFilterConfig {
            &self.filter
        }

        fn batching(&self) -> $crate::kernel::source::Batching {
            $crate::kernel::source::Batching {
                max_events: self.batch_max_events,
                timeout: self.batch_timeout,
            }
        }
    };
}
pub(crate) use ring_settings;

impl<C: KernelSourceConfig> Kind for C {
    const KIND: &'static str = <C as KernelSourceConfig>::KIND;
}

impl<C: KernelSourceConfig> Declared for C {
    fn signals(&self) -> &'static [Signal] {
        C::SIGNALS
    }
    fn validate(&self) -> Vec<ConfigError> {
        self.problems()
    }
    fn checkup(&self, id: &ComponentId, report: &mut Report, shared: &Shared) {
        crate::kernel::checkup::check_source(report, shared, &id.to_string(), &self.plan());
    }
    fn example() -> Self {
        <C as KernelSourceConfig>::example()
    }
}

impl<C: KernelSourceConfig> SourceType for C {
    fn needs_kernel(&self) -> bool {
        true
    }
    fn build(&self, id: &ComponentId, _: &Shared) -> Box<dyn Source> {
        Box::new(KernelSource::<C::Program>::new(id, self))
    }
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
        let (tx, updates) = FilterUpdates::channel(self.config.filter().clone());
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
        Box::pin(crate::kernel::reader::run::<K>(
            this.id.to_string(),
            this.config,
            out,
            shutdown,
            this.filter_updates,
        ))
    }
}
