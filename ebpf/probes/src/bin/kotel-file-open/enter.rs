//! `sys_enter_*`: keep the open's arguments for its exit. Nothing is read from user memory
//! here; an unwatched open costs one array slot write.
//!
//! Field offsets are those of the stable syscall tracepoint formats
//! (`/sys/kernel/tracing/events/syscalls/sys_enter_*/format`): `__syscall_nr` at 8, then
//! one 8-byte slot per argument from 16.

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, programs::TracePointContext};
use kotel_common::file_open::{syscall, ARG_SLOTS};
use kotel_probes::read::field;

use super::KOTEL_FILE_OPEN_ARGS;

/// Offset of `__syscall_nr` in every syscall tracepoint record.
pub(super) const OFF_SYSCALL_NR: usize = 8;
/// Offset of the first syscall argument; each argument takes 8 bytes.
const OFF_ARG0: usize = 16;

/// `AT_FDCWD`: a path relative to the working directory.
pub(super) const AT_FDCWD: i32 = -100;
/// `O_WRONLY | O_CREAT | O_TRUNC`: what creat(2) means (asm-generic values, as on x86_64).
const CREAT_FLAGS: u32 = 0o1 | 0o100 | 0o1000;

/// Syscall argument `i` as a 64-bit value.
#[inline(always)]
fn arg(ctx: &TracePointContext, i: usize) -> u64 {
    field::<u64>(ctx, OFF_ARG0 + 8 * i)
}

/// `openat(dfd, filename, flags, mode)`.
pub(super) fn openat(ctx: &TracePointContext) {
    let dfd = arg(ctx, 0) as i32;
    keep(
        ctx,
        dfd,
        arg(ctx, 1),
        0,
        arg(ctx, 2) as u32,
        syscall::OPENAT,
    );
}

/// `openat2(dfd, filename, how, usize)`: the flags are `how->flags`, read at exit.
pub(super) fn openat2(ctx: &TracePointContext) {
    let dfd = arg(ctx, 0) as i32;
    keep(ctx, dfd, arg(ctx, 1), arg(ctx, 2), 0, syscall::OPENAT2);
}

/// `open(filename, flags, mode)`.
pub(super) fn open(ctx: &TracePointContext) {
    keep(
        ctx,
        AT_FDCWD,
        arg(ctx, 0),
        0,
        arg(ctx, 1) as u32,
        syscall::OPEN,
    );
}

/// `creat(pathname, mode)`.
pub(super) fn creat(ctx: &TracePointContext) {
    keep(ctx, AT_FDCWD, arg(ctx, 0), 0, CREAT_FLAGS, syscall::CREAT);
}

/// Writes the arguments into this thread's slot (`tid % ARG_SLOTS`), overwriting whatever
/// it held: a thread whose exit finds another owner reports without them (`args_lost`).
#[inline(always)]
fn keep(ctx: &TracePointContext, dfd: i32, filename: u64, how: u64, flags: u32, syscall: u32) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let Some(slot) = KOTEL_FILE_OPEN_ARGS.get_ptr_mut(pid_tgid as u32 & (ARG_SLOTS - 1)) else {
        return;
    };
    // SAFETY: an array slot. Two threads sharing a slot inside open at once may interleave
    // their writes: the exit checks the owner (`pid_tgid`, `syscall_nr`), so the worst case
    // is a requested path or flags of the other thread on a report.
    unsafe {
        (*slot).pid_tgid = pid_tgid;
        (*slot).filename = filename;
        (*slot).how = how;
        (*slot).flags = flags;
        (*slot).dfd = dfd;
        (*slot).syscall = syscall;
        (*slot).syscall_nr = field::<i32>(ctx, OFF_SYSCALL_NR) as u32;
    }
}
