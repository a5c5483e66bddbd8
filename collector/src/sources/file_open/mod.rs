//! The `file_open` source: opens of watched paths, as security events.
//!
//! Kernel programs (`ebpf/probes/src/bin/kotel-file-open/`) on the `syscalls` tracepoints of
//! openat, openat2, open and creat match each open in the kernel by what it opened (the
//! rules are in `kotel_common::file_open`) and send a match with its result through a ring
//! buffer. From 6.1 only the exit tracepoints: the exit reads the arguments from the
//! task's registers ([`regs`]). Unwatched opens never reach user space. This module loads the programs
//! ([`loader`]), resolves the watched paths into the inodes the kernel matches, in every
//! mount namespace, and keeps them current ([`follow`]), decodes the records ([`decode`])
//! and the shared kernel layer reads the ring buffer.
//!
//! Contract: [`FileOpenSource::new`] touches nothing outside the process (config validation
//! and unit tests need no root). [`Source::run`](crate::component::Source::run) loads and attaches (failures are
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

use std::sync::Arc;

use kotel_common::file_open::{names, FileOpenStat};

use crate::component::ComponentError;
use crate::event::Event;
use crate::kernel::batcher::DecodeFailure;
use crate::kernel::clock::ClockOffset;
use crate::kernel::source::{
    one_event, ring_settings, Attached, KernelProgram, KernelSource, KernelSourceConfig,
    NoPeriodic, RecordDecoder, RingMaps,
};
use crate::kernel::spec::LoadPlan;
use crate::settings::{ConfigError, Signal};

/// Counter: the `file_open` kernel programs' own stats. Labels: `stat` (a `FileOpenStat`
/// name: `emitted`, `ringbuf_full`, `read_error`, `args_lost`, `filtered`, `wakeup`,
/// `truncated`, `walk_deep`, `inode_lookups`, `typed_matches`).
pub const KERNEL_EVENTS: &str = "kotel.source.file_open.kernel_events";

/// The `file_open` kernel programs: opens of watched paths.
pub struct FileOpen;

/// The `file_open` source, built from its config; attaches to the kernel only in `run`.
pub type FileOpenSource = KernelSource<FileOpen>;

/// Decodes file_open records, naming the watched path each one matched.
pub struct FileOpenDecoder {
    watched: Arc<Vec<String>>,
}

impl RecordDecoder for FileOpenDecoder {
    fn decode(
        &mut self,
        record: &[u8],
        clock: &ClockOffset,
        out: &mut Vec<Event>,
    ) -> Result<(), DecodeFailure> {
        one_event(
            decode::decode(record, clock, &self.watched),
            decode::DecodeError::reason,
            Event::FileOpen,
            out,
        )
    }
}

impl KernelProgram for FileOpen {
    type Config = FileOpenSourceConfig;
    /// The follower, running while the programs are attached.
    type Held = follow::Running;
    type Decoder = FileOpenDecoder;
    type Periodic = NoPeriodic;

    fn ring() -> RingMaps {
        RingMaps {
            events_map: names::EVENTS,
            stats_map: names::STATS,
            metric: KERNEL_EVENTS,
            stats: FileOpenStat::ALL.map(FileOpenStat::name).to_vec(),
            ringbuf_full: FileOpenStat::RingbufFull as usize,
        }
    }

    fn attach(
        source: &str,
        config: &FileOpenSourceConfig,
    ) -> Result<Attached<follow::Running>, ComponentError> {
        loader::attach(source, config)
    }

    fn reader(
        _: &str,
        config: &FileOpenSourceConfig,
        _: &mut Attached<follow::Running>,
    ) -> Result<(FileOpenDecoder, NoPeriodic), ComponentError> {
        let watched = Arc::new(config.paths.clone());
        Ok((FileOpenDecoder { watched }, NoPeriodic))
    }
}

impl KernelSourceConfig for FileOpenSourceConfig {
    type Program = FileOpen;
    const KIND: &'static str = "file_open";
    const SIGNALS: &'static [Signal] = &[Signal::Logs];

    fn problems(&self) -> Vec<ConfigError> {
        self.validate()
    }

    fn plan(&self) -> LoadPlan {
        plan::plan(
            self,
            &plan::KernelFacts::of_running_kernel(&self.proc_dir()),
        )
    }

    ring_settings!();

    /// Watching `/etc/shadow`: the source needs a path to run.
    fn example() -> Self {
        Self {
            paths: vec!["/etc/shadow".into()],
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests;
