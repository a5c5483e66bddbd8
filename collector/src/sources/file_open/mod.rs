//! The `file_open` source: opens of watched paths, as security events.
//!
//! Kernel programs (`ebpf/probes/src/bin/kotel-file-open/`) on the `syscalls` tracepoints of
//! openat, openat2, open and creat match each open in the kernel by what it opened (the
//! rules are in `kotel_common::file_open`) and send a match with its result through a ring
//! buffer. From 6.1 only the exit tracepoints: the exit reads the arguments from the
//! task's registers ([`regs`]). Unwatched opens never reach user space. This module loads the programs
//! ([`loader`]), resolves the watched paths into the inodes the kernel matches, in every
//! mount namespace, and keeps them current ([`follow`]), decodes the records ([`decode`])
//! and batches them into the pipeline (`reader`).
//!
//! Contract: [`FileOpenSource::new`] touches nothing outside the process (config validation
//! and unit tests need no root). [`Source::run`] loads and attaches (failures are
//! `ComponentError::Startup` with the reason, e.g. missing privileges or an invalid config),
//! emits `Event::FileOpen` batches until shutdown, then detaches and returns `Ok(())`.
//!
//! Self-telemetry: [`KERNEL_EVENTS`]`{stat}` (a `FileOpenStat` name),
//! `kotel.ebpf.ringbuf.lost{source="file_open"}`,
//! `kotel.source.decode_errors{source="file_open",reason}`, and the follower's
//! [`follow::WATCHED_INODES`], [`follow::MOUNT_NAMESPACES`], [`follow::RESOLUTIONS`],
//! [`follow::RESOLVE_ERRORS`].

mod config;
mod decode;
pub mod follow;
mod loader;
pub mod namespaces;
pub mod plan;
pub mod regs;
pub mod watch;
mod watch_maps;

pub use config::FileOpenSourceConfig;
pub use decode::{access_names, decode, DecodeError};
pub use loader::prefix_key;

use kotel_common::file_open::{names, FileOpenStat};

use crate::event::Event;
use crate::kernel::clock::ClockOffset;
use crate::kernel::reader::{read_object, NoPeriodic, RingSpec};
use crate::kernel::source::{KernelProgram, KernelSource};
use crate::pipeline::{BoxFuture, ComponentError, Shutdown, SourceOutput};
use crate::sources::kernel_filter::{FilterUpdates, KernelFilterConfig};

/// Counter: the `file_open` kernel programs' own stats. Labels: `stat` (a `FileOpenStat`
/// name: `emitted`, `ringbuf_full`, `read_error`, `args_lost`, `filtered`, `wakeup`,
/// `truncated`, `walk_deep`, `inode_lookups`, `typed_matches`).
pub const KERNEL_EVENTS: &str = "kotel.source.file_open.kernel_events";

/// The `file_open` kernel programs: opens of watched paths.
pub struct FileOpen;

/// The `file_open` source, built from its config; attaches to the kernel only in `run`.
pub type FileOpenSource = KernelSource<FileOpen>;

impl KernelProgram for FileOpen {
    type Config = FileOpenSourceConfig;

    fn filter(config: &FileOpenSourceConfig) -> &KernelFilterConfig {
        &config.filter
    }

    fn run(
        source: String,
        config: FileOpenSourceConfig,
        out: SourceOutput,
        shutdown: Shutdown,
        filter_updates: FilterUpdates,
    ) -> BoxFuture<'static, Result<(), ComponentError>> {
        Box::pin(async move {
            let loader::Kernel {
                mut ebpf,
                mut filter,
                follower,
            } = loader::attach(&source, &config)?;
            let watched = std::sync::Arc::new(config.paths.clone());
            let spec = RingSpec {
                source: source.clone(),
                events_map: names::EVENTS,
                stats_map: names::STATS,
                metric: KERNEL_EVENTS,
                stats: FileOpenStat::ALL.map(FileOpenStat::name).to_vec(),
                ringbuf_full: FileOpenStat::RingbufFull as usize,
                batch_max_events: config.batch_max_events,
                batch_timeout: config.batch_timeout,
            };
            let decode = move |record: &[u8], clock: &ClockOffset| {
                decode::decode(record, clock, &watched)
                    .map(Event::FileOpen)
                    .map_err(|e| (e.reason(), e.to_string()))
            };
            tracing::debug!(source = %source, "file_open source running");
            let following = follower.spawn(config.rescan_interval);
            let result = read_object(
                spec,
                &mut ebpf,
                &mut filter,
                filter_updates,
                decode,
                NoPeriodic,
                out,
                shutdown,
            )
            .await;
            drop(following);
            drop(filter);
            drop(ebpf); // detaches the programs
            result
        })
    }
}

#[cfg(test)]
mod tests;
