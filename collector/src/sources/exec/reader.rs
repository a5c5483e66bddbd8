//! The exec source's read loop: the shared ring-buffer reader ([`crate::kernel::reader`])
//! with exec's decode and stats.
//!
//! Contract: see the shared reader; stats go to [`KERNEL_EVENTS`]`{stat}` and
//! `kotel.ebpf.ringbuf.lost{source="exec"}`. On return the [`Kernel`] is dropped, which
//! detaches the program.

use kotel_common::exec::{names, ExecStat};

use super::config::ExecSourceConfig;
use super::decode::decode;
use super::loader::Kernel;
use crate::event::Event;
use crate::kernel::clock::ClockOffset;
use crate::kernel::reader::{read_object, NoPeriodic, RingSpec};
use crate::pipeline::{ComponentError, Shutdown, SourceOutput};
use crate::sources::kernel_filter::FilterUpdates;

/// Counter: the `exec` kernel program's own stats. Labels: `stat` (an `ExecStat` name:
/// `emitted`, `ringbuf_full`, `filtered`, `args_unread`, `args_truncated`,
/// `ppid_unknown`, `wakeup`).
pub const KERNEL_EVENTS: &str = "kotel.source.exec.kernel_events";

/// Runs until shutdown; see the module contract.
pub async fn run(
    source: &str,
    mut kernel: Kernel,
    config: &ExecSourceConfig,
    out: SourceOutput,
    shutdown: Shutdown,
    filter_updates: FilterUpdates,
) -> Result<(), ComponentError> {
    let spec = RingSpec {
        source: source.to_string(),
        events_map: names::EVENTS,
        stats_map: names::STATS,
        metric: KERNEL_EVENTS,
        stats: ExecStat::ALL.map(ExecStat::name).to_vec(),
        ringbuf_full: ExecStat::RingbufFull as usize,
        batch_max_events: config.batch_max_events,
        batch_timeout: config.batch_timeout,
    };
    let decode = |record: &[u8], clock: &ClockOffset| {
        decode(record, clock)
            .map(Event::Exec)
            .map_err(|e| (e.reason(), e.to_string()))
    };
    let (ebpf, filter) = (&mut kernel.ebpf, &mut kernel.filter);
    let result = read_object(
        spec,
        ebpf,
        filter,
        filter_updates,
        decode,
        NoPeriodic,
        out,
        shutdown,
    )
    .await;
    drop(kernel); // detaches the program
    result
}
