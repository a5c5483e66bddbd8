//! `sys_exit_*`: complete a remembered open with its result and send it to user space.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns},
    programs::TracePointContext,
};
use kotel_common::file_open::{FileOpenRecord, FileOpenStat, FILE_OPEN_RECORD_SIZE};
use kotel_probes::read::field;

use super::enter::OFF_SYSCALL_NR;
use super::{count, KOTEL_FILE_OPEN_EVENTS, KOTEL_FILE_OPEN_PENDING, KOTEL_FILE_OPEN_WAKEUP_BYTES};

/// Offset of `ret` in every `sys_exit_*` record.
const OFF_RET: usize = 16;
/// Ring buffer bytes one record takes (8-byte header + payload).
const RECORD_BYTES: u64 = FILE_OPEN_RECORD_SIZE as u64 + 8;

/// Ring-buffer flags for the next record under the configured wakeup policy.
#[inline(always)]
fn wakeup_flags() -> u64 {
    let wake = KOTEL_FILE_OPEN_WAKEUP_BYTES.load();
    if wake == 0 {
        return 0;
    }
    // Wake the reader once per fill cycle: when this record crosses the threshold.
    let avail = KOTEL_FILE_OPEN_EVENTS.query(BPF_RB_AVAIL_DATA as u64);
    if avail < wake && avail + RECORD_BYTES >= wake {
        count(FileOpenStat::Wakeup);
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}

/// The common case (no remembered open for this thread) is one hash lookup.
pub(super) fn exit(ctx: &TracePointContext) -> Result<u32, u32> {
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(rec) = KOTEL_FILE_OPEN_PENDING.get_ptr_mut(tid) else {
        return Ok(0);
    };
    // SAFETY: the value of this thread's entry; only this thread's handlers touch it.
    unsafe {
        if (*rec).syscall_nr != field::<i32>(ctx, OFF_SYSCALL_NR) as u32 {
            count(FileOpenStat::Orphaned);
        } else {
            (*rec).ret = field::<i64>(ctx, OFF_RET) as i32;
            (*rec).timestamp_ns = bpf_ktime_get_ns();
            let flags = wakeup_flags();
            match KOTEL_FILE_OPEN_EVENTS.output::<FileOpenRecord>(&*rec, flags) {
                Ok(()) => count(FileOpenStat::Emitted),
                Err(_) => count(FileOpenStat::RingbufFull),
            }
        }
    }
    let _ = KOTEL_FILE_OPEN_PENDING.remove(tid);
    Ok(0)
}
