//! The `exec` source: every successful exec from `sched:sched_process_exec`, with pid,
//! ppid, uid, cgroup id, comm, the executed path and argv.
//!
//! A kernel program (`ebpf/probes/src/bin/kotel-exec`) writes one fixed-size record per
//! exec into a ring buffer, argv cut to a byte budget and flagged when cut; this module
//! loads it ([`loader`]) and decodes the records ([`decode`]); the shared kernel layer
//! reads the ring buffer.
//!
//! Contract: [`ExecSource::new`] touches nothing outside the process (config validation
//! and unit tests need no root). [`Source::run`](crate::component::Source::run) loads,
//! applies the kernel filter and attaches (failures are `ComponentError::Startup` with the
//! reason), emits `Event::Exec` batches until shutdown, then detaches and returns `Ok(())`.
//! Stats go to [`KERNEL_EVENTS`]`{stat}` and `kotel.ebpf.ringbuf.lost{source="exec"}`.

mod config;
mod decode;
mod loader;
pub mod plan;

pub use config::{ExecSourceConfig, HookChoice, MIN_RING_BUFFER_BYTES, RECORD_BYTES};
pub use decode::{decode, split_args, DecodeError};
pub use loader::Hook;
pub use plan::{task_offsets_from, wakeup_policy};

use kotel_common::exec::{names, ExecStat};

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

/// Counter: the `exec` kernel program's own stats. Labels: `stat` (an `ExecStat` name:
/// `emitted`, `ringbuf_full`, `filtered`, `args_unread`, `args_truncated`,
/// `ppid_unknown`, `wakeup`).
pub const KERNEL_EVENTS: &str = "kotel.source.exec.kernel_events";

/// The `exec` kernel program: successful execs.
pub struct Exec;

/// The `exec` source, built from its config; attaches to the kernel only in `run`.
pub type ExecSource = KernelSource<Exec>;

/// Decodes exec records.
pub struct ExecDecoder;

impl RecordDecoder for ExecDecoder {
    fn decode(
        &mut self,
        record: &[u8],
        clock: &ClockOffset,
        out: &mut Vec<Event>,
    ) -> Result<(), DecodeFailure> {
        one_event(decode(record, clock), DecodeError::reason, Event::Exec, out)
    }
}

impl KernelProgram for Exec {
    type Config = ExecSourceConfig;
    type Held = Hook;
    type Decoder = ExecDecoder;
    type Periodic = NoPeriodic;

    fn ring() -> RingMaps {
        RingMaps {
            events_map: names::EVENTS,
            stats_map: names::STATS,
            metric: KERNEL_EVENTS,
            stats: ExecStat::ALL.map(ExecStat::name).to_vec(),
            ringbuf_full: ExecStat::RingbufFull as usize,
        }
    }

    fn attach(source: &str, config: &ExecSourceConfig) -> Result<Attached<Hook>, ComponentError> {
        loader::attach(source, config)
    }

    fn reader(
        _: &str,
        _: &ExecSourceConfig,
        _: &mut Attached<Hook>,
    ) -> Result<(ExecDecoder, NoPeriodic), ComponentError> {
        Ok((ExecDecoder, NoPeriodic))
    }
}

impl KernelSourceConfig for ExecSourceConfig {
    type Program = Exec;
    const KIND: &'static str = "exec";
    const SIGNALS: &'static [Signal] = &[Signal::Logs];

    fn problems(&self) -> Vec<ConfigError> {
        self.validate()
    }

    fn plan(&self) -> LoadPlan {
        plan::plan(self, &plan::KernelFacts::of_running_kernel())
    }

    ring_settings!();
}

#[cfg(test)]
mod tests;
