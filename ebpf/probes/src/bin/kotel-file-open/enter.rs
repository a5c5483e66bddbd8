//! `sys_enter_*`: read the path, match it against the watched prefixes, remember a hit.
//!
//! Field offsets are those of the stable syscall tracepoint formats
//! (`/sys/kernel/tracing/events/syscalls/sys_enter_*/format`): `__syscall_nr` at 8, then
//! one 8-byte slot per argument from 16.

use aya_ebpf::{
    bindings::BPF_ANY,
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_probe_read_user,
        generated::{bpf_get_current_comm, bpf_probe_read_user_str},
    },
    maps::lpm_trie::Key,
    programs::TracePointContext,
};
use kotel_common::file_open::{syscall, FileOpenRecord, FileOpenStat, COMM_LEN, PATH_MAX_BYTES};
use kotel_probes::{filter::allows_process, read::field};

use super::{count, KOTEL_FILE_OPEN_PENDING, KOTEL_FILE_OPEN_PREFIXES, KOTEL_FILE_OPEN_SCRATCH};

/// Offset of `__syscall_nr` in every syscall tracepoint record.
pub(super) const OFF_SYSCALL_NR: usize = 8;
/// Offset of the first syscall argument; each argument takes 8 bytes.
const OFF_ARG0: usize = 16;

/// `O_WRONLY | O_CREAT | O_TRUNC`: what creat(2) means (asm-generic values, as on x86_64).
const CREAT_FLAGS: u32 = 0o1 | 0o100 | 0o1000;

/// Syscall argument `i` as a 64-bit value.
#[inline(always)]
fn arg(ctx: &TracePointContext, i: usize) -> u64 {
    field::<u64>(ctx, OFF_ARG0 + 8 * i)
}

/// `openat(dfd, filename, flags, mode)`.
pub(super) fn openat(ctx: &TracePointContext) -> Result<u32, u32> {
    enter(ctx, arg(ctx, 1), arg(ctx, 2) as u32, syscall::OPENAT)
}

/// `openat2(dfd, filename, how, usize)`: the flags are `how->flags` (read only on a match).
pub(super) fn openat2(ctx: &TracePointContext) -> Result<u32, u32> {
    let Some(rec) = matched(arg(ctx, 1)) else {
        return Ok(0);
    };
    // SAFETY: user pointer read through the helper; a bad pointer is an error, not a fault.
    let flags = match unsafe { bpf_probe_read_user(arg(ctx, 2) as *const u64) } {
        Ok(f) => f as u32,
        Err(_) => {
            count(FileOpenStat::ReadError);
            0
        }
    };
    remember(ctx, rec, flags, syscall::OPENAT2)
}

/// `open(filename, flags, mode)`.
pub(super) fn open(ctx: &TracePointContext) -> Result<u32, u32> {
    enter(ctx, arg(ctx, 0), arg(ctx, 1) as u32, syscall::OPEN)
}

/// `creat(pathname, mode)`.
pub(super) fn creat(ctx: &TracePointContext) -> Result<u32, u32> {
    enter(ctx, arg(ctx, 0), CREAT_FLAGS, syscall::CREAT)
}

#[inline(always)]
fn enter(ctx: &TracePointContext, filename: u64, flags: u32, syscall: u32) -> Result<u32, u32> {
    match matched(filename) {
        Some(rec) => remember(ctx, rec, flags, syscall),
        None => Ok(0),
    }
}

/// Reads the path at `filename` into this CPU's scratch record and returns the record when
/// the path starts with a watched prefix (longest match in the trie), else `None`.
#[inline(always)]
fn matched(filename: u64) -> Option<*mut FileOpenRecord> {
    let rec = KOTEL_FILE_OPEN_SCRATCH.get_ptr_mut(0)?;
    // SAFETY: `rec` is this CPU's scratch value (PATH_MAX_BYTES bytes of `path`); the helper
    // writes at most that many bytes, NUL included, and fails cleanly on a bad pointer.
    let n = unsafe {
        bpf_probe_read_user_str(
            (*rec).path.as_mut_ptr().cast(),
            PATH_MAX_BYTES as u32,
            filename as *const _,
        )
    };
    if n <= 0 {
        count(FileOpenStat::ReadError);
        return None;
    }
    // SAFETY: `path_bits` directly precedes `path` (asserted in kotel_common), so the two
    // form the trie's packed key `{ prefix_len: u32, data: [u8; PATH_MAX_BYTES] }`.
    unsafe {
        (*rec).path_bits = (n as u32 - 1) * 8;
        let key = &*(core::ptr::addr_of!((*rec).path_bits).cast::<Key<[u8; PATH_MAX_BYTES]>>());
        KOTEL_FILE_OPEN_PREFIXES.get(key)?;
        // A full buffer may hold a cut path: look at the byte after the last one kept.
        (*rec).path_truncated = 0;
        if n as usize == PATH_MAX_BYTES {
            let next = (filename + PATH_MAX_BYTES as u64 - 1) as *const u8;
            if bpf_probe_read_user(next).is_ok_and(|b| b != 0) {
                (*rec).path_truncated = 1;
                count(FileOpenStat::Truncated);
            }
        }
    }
    Some(rec)
}

/// Completes the owner fields of a matched record and remembers it for the exit handler,
/// unless the kernel filters drop the process.
#[inline(always)]
fn remember(
    ctx: &TracePointContext,
    rec: *mut FileOpenRecord,
    flags: u32,
    syscall: u32,
) -> Result<u32, u32> {
    // SAFETY: `rec` is this CPU's scratch value, returned by `matched` in this invocation.
    unsafe {
        let cgroup_id = bpf_get_current_cgroup_id();
        let comm = (*rec).comm.as_mut_ptr().cast();
        if bpf_get_current_comm(comm, COMM_LEN as u32) != 0 {
            (*rec).comm = [0; COMM_LEN];
        }
        if !allows_process(cgroup_id, &(*rec).comm) {
            count(FileOpenStat::Filtered);
            return Ok(0);
        }
        let pid_tgid = bpf_get_current_pid_tgid();
        let tid = pid_tgid as u32;
        (*rec).timestamp_ns = 0;
        (*rec).cgroup_id = cgroup_id;
        (*rec).pid = (pid_tgid >> 32) as u32;
        (*rec).tid = tid;
        (*rec).flags = flags;
        (*rec).ret = 0;
        (*rec).syscall = syscall;
        (*rec).syscall_nr = field::<i32>(ctx, OFF_SYSCALL_NR) as u32;
        if KOTEL_FILE_OPEN_PENDING
            .insert(tid, &*rec, BPF_ANY as u64)
            .is_err()
        {
            count(FileOpenStat::PendingFull);
        }
    }
    Ok(0)
}
