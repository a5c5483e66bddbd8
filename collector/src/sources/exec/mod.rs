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

use crate::component::checkup::Report;
use crate::component::kind::{Declared, Kind, Shared, SourceType};
use crate::component::ComponentError;
use crate::config::{ComponentId, ConfigError, Signal};
use crate::event::Event;
use crate::kernel::batcher::DecodeFailure;
use crate::kernel::clock::ClockOffset;
use crate::kernel::filter::KernelFilterConfig;
use crate::kernel::source::{
    Attached, Batching, KernelProgram, KernelSource, NoPeriodic, RecordDecoder, RingMaps,
};

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
    fn decode(&mut self, record: &[u8], clock: &ClockOffset) -> Result<Event, DecodeFailure> {
        decode(record, clock)
            .map(Event::Exec)
            .map_err(|e| (e.reason(), e.to_string()))
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

    fn filter(config: &ExecSourceConfig) -> &KernelFilterConfig {
        &config.filter
    }

    fn batching(config: &ExecSourceConfig) -> Batching {
        Batching {
            max_events: config.batch_max_events,
            timeout: config.batch_timeout,
        }
    }

    fn attach(source: &str, config: &ExecSourceConfig) -> Result<Attached<Hook>, ComponentError> {
        loader::attach(source, config)
    }

    fn reader(
        _: &ExecSourceConfig,
        _: &mut Attached<Hook>,
    ) -> Result<(ExecDecoder, NoPeriodic), ComponentError> {
        Ok((ExecDecoder, NoPeriodic))
    }
}

impl Kind for ExecSourceConfig {
    const KIND: &'static str = "exec";
}

impl Declared for ExecSourceConfig {
    fn signals(&self) -> &'static [Signal] {
        &[Signal::Logs]
    }
    fn validate(&self) -> Vec<ConfigError> {
        ExecSourceConfig::validate(self)
    }
    fn checkup(&self, id: &ComponentId, report: &mut Report, shared: &Shared) {
        let plan = plan::plan(self, &plan::KernelFacts::of_running_kernel());
        crate::kernel::checkup::check_source(report, shared, &id.to_string(), &plan);
    }
}

impl SourceType for ExecSourceConfig {
    fn needs_kernel(&self) -> bool {
        true
    }

    fn build(&self, id: &ComponentId, _shared: &Shared) -> Box<dyn crate::component::Source> {
        Box::new(ExecSource::new(id, self))
    }
}

#[cfg(test)]
mod tests;
