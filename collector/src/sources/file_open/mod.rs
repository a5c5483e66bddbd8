//! The `file_open` source: opens of watched paths, as security events.
//!
//! Kernel programs (`ebpf/probes/src/bin/kotel-file-open/`) on the `syscalls` tracepoints of
//! openat, openat2, open and creat match each path argument against the configured prefixes
//! inside the kernel (an LPM trie), remember a matching open per thread until the syscall
//! returns, and send it with its result through a ring buffer. Unwatched opens never reach
//! user space. This module loads the programs ([`loader`]), decodes the records
//! ([`decode`]) and batches them into the pipeline (`reader`).
//!
//! Contract: [`FileOpenSource::new`] touches nothing outside the process (config validation
//! and unit tests need no root). [`Source::run`] loads and attaches (failures are
//! `ComponentError::Startup` with the reason, e.g. missing privileges or an invalid config),
//! emits `Event::FileOpen` batches until shutdown, then detaches and returns `Ok(())`.
//!
//! Self-telemetry: [`KERNEL_EVENTS`]`{stat}` (a `FileOpenStat` name),
//! `kotel.ebpf.ringbuf.lost{source="file_open"}`,
//! `kotel.source.decode_errors{source="file_open",reason}`.

mod config;
mod decode;
mod loader;

pub use config::FileOpenSourceConfig;
pub use decode::{access_names, decode, DecodeError};
pub use loader::prefix_key;

use kotel_common::file_open::{names, FileOpenStat};
use tokio::sync::watch;

use crate::config::ComponentId;
use crate::event::Event;
use crate::kernel::clock::ClockOffset;
use crate::kernel::reader::{self as kernel_reader, take_ring_and_stats, ReadSettings};
use crate::kernel::stats::{KernelStats, StatsSpec};
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, Source, SourceOutput};
use crate::sources::kernel_filter::{FilterUpdates, KernelFilterConfig};

/// Value of the `source` label on shared source metrics.
pub const SOURCE: &str = "file_open";
/// Counter: the `file_open` kernel programs' own stats. Labels: `stat` (a `FileOpenStat`
/// name: `emitted`, `ringbuf_full`, `read_error`, `pending_full`, `filtered`, `wakeup`,
/// `truncated`, `orphaned`).
pub const KERNEL_EVENTS: &str = "kotel.source.file_open.kernel_events";

/// `FileOpenStat` names in map-index order.
const STAT_NAMES: [&str; FileOpenStat::COUNT as usize] = {
    let mut names = [""; FileOpenStat::COUNT as usize];
    let mut i = 0;
    while i < names.len() {
        names[i] = FileOpenStat::ALL[i].name();
        i += 1;
    }
    names
};

/// The `file_open` source, built from its config; attaches to the kernel only in `run`.
pub struct FileOpenSource {
    id: ComponentId,
    config: FileOpenSourceConfig,
    filter_updates: FilterUpdates,
}

impl FileOpenSource {
    /// A source for `id` with `config`; no kernel access.
    pub fn new(id: &ComponentId, config: &FileOpenSourceConfig) -> Self {
        Self {
            id: id.clone(),
            config: config.clone(),
            filter_updates: FilterUpdates::none(),
        }
    }

    /// A handle that replaces the kernel filter while the source runs (no reload); the
    /// source starts with `filter` from its config.
    pub fn filter_control(&mut self) -> watch::Sender<KernelFilterConfig> {
        let (tx, updates) = FilterUpdates::channel(self.config.filter.clone());
        self.filter_updates = updates;
        tx
    }

    /// The component id this source was built for.
    pub fn id(&self) -> &ComponentId {
        &self.id
    }
}

impl Source for FileOpenSource {
    fn run(
        self: Box<Self>,
        out: SourceOutput,
        shutdown: Shutdown,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut kernel = loader::attach(&self.config)?;
            let (ring, stats) = take_ring_and_stats(&mut kernel.ebpf, names::EVENTS, names::STATS)?;
            let stats = KernelStats::new(
                stats,
                StatsSpec {
                    source: SOURCE.to_string(),
                    metric: KERNEL_EVENTS,
                    stats: &STAT_NAMES,
                    ringbuf_full: FileOpenStat::RingbufFull as usize,
                },
            );
            let settings = ReadSettings {
                source: SOURCE.to_string(),
                batch_max_events: self.config.batch_max_events,
                batch_timeout: self.config.batch_timeout,
            };
            let clock = ClockOffset::now();
            let decode = move |record: &[u8]| {
                decode::decode(record, &clock)
                    .map(Event::FileOpen)
                    .map_err(|e| (e.reason(), e.to_string()))
            };
            tracing::debug!(source = %self.id, "file_open source running");
            let (filter, updates) = (&mut kernel.filter, self.filter_updates);
            let result = kernel_reader::run(
                ring,
                stats,
                filter,
                updates,
                settings,
                decode,
                kernel_reader::NoPeriodic,
                out,
                shutdown,
            )
            .await;
            drop(kernel); // detaches the programs
            result
        })
    }
}

#[cfg(test)]
mod tests;
