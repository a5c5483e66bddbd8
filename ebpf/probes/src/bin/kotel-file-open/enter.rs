//! `sys_enter_*` (kernels where the exit cannot read the task's registers): keep the
//! open's arguments for its exit. Nothing is read from user memory here; an open costs one
//! array slot write.
//!
//! Field offsets are those of the stable syscall tracepoint formats
//! (`/sys/kernel/tracing/events/syscalls/sys_enter_*/format`): `__syscall_nr` at 8, then
//! one 8-byte slot per argument from 16.

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, programs::TracePointContext};
use kotel_common::file_open::ARG_SLOTS;
use kotel_probes::read::field;

use super::args::decode;
use super::KOTEL_FILE_OPEN_ARGS;

/// Offset of `__syscall_nr` in every syscall tracepoint record.
pub(super) const OFF_SYSCALL_NR: usize = 8;
/// Offset of the first syscall argument; each argument takes 8 bytes.
const OFF_ARG0: usize = 16;

/// Writes the arguments of syscall `id` (a `syscall` id) into this thread's slot (`tid %
/// ARG_SLOTS`), overwriting whatever it held: a thread whose exit finds another owner
/// reports without them (`args_lost`).
#[inline(always)]
pub(super) fn keep(ctx: &TracePointContext, id: u32) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let Some(slot) = KOTEL_FILE_OPEN_ARGS.get_ptr_mut(pid_tgid as u32 & (ARG_SLOTS - 1)) else {
        return;
    };
    // SAFETY: an array slot. Two threads sharing a slot inside open at once may interleave
    // their writes: the exit checks the owner (`pid_tgid`, `syscall_nr`), so the worst case
    // is a requested path or flags of the other thread on a report.
    unsafe {
        (*slot).pid_tgid = pid_tgid;
        decode(id, |i| field::<u64>(ctx, OFF_ARG0 + 8 * i), &mut *slot);
        (*slot).syscall_nr = field::<i32>(ctx, OFF_SYSCALL_NR) as u32;
    }
}
