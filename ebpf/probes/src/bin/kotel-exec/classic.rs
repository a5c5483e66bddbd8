//! The fallback source of an exec's facts: the classic `sched:sched_process_exec`
//! tracepoint, which runs without kernel BTF. Ids come from helpers, the path from the
//! tracepoint record, ppid and argv from probing reads through the BTF offsets when the
//! agent found them.

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
        bpf_probe_read_kernel, generated,
    },
    programs::TracePointContext,
    EbpfContext,
};
use kotel_common::exec::{TaskOffsets, COMM_LEN, PATH_BYTES};
use kotel_probes::read::field;

use super::view::View;
use super::KOTEL_EXEC_TASK_OFFSETS;

/// `__data_loc char[] filename`: `(length << 16) | offset` of a NUL-terminated string inside
/// the record (/sys/kernel/tracing/events/sched/sched_process_exec/format).
const OFF_FILENAME_LOC: usize = 8;

pub(crate) struct TracepointView<'a> {
    ctx: &'a TracePointContext,
    task: u64,
    off: TaskOffsets,
}

impl<'a> TracepointView<'a> {
    #[inline(always)]
    pub(crate) fn new(ctx: &'a TracePointContext) -> Self {
        Self {
            ctx,
            // SAFETY: no preconditions; the exec'ing task is current.
            task: unsafe { generated::bpf_get_current_task() },
            off: KOTEL_EXEC_TASK_OFFSETS.load(),
        }
    }

    /// A probing read of the kernel value at `base + off`; `None` when offsets are
    /// unknown or the read fails.
    #[inline(always)]
    fn read<T: Copy>(&self, base: u64, off: u32) -> Option<T> {
        if self.off.valid == 0 || base == 0 {
            return None;
        }
        // SAFETY: a probing read: a bad address fails, it does not fault.
        unsafe { bpf_probe_read_kernel((base + u64::from(off)) as *const T) }.ok()
    }
}

impl View for TracepointView<'_> {
    #[inline(always)]
    fn comm(&self) -> [u8; COMM_LEN] {
        bpf_get_current_comm().unwrap_or([0; COMM_LEN])
    }

    #[inline(always)]
    fn pid(&self) -> u32 {
        (bpf_get_current_pid_tgid() >> 32) as u32
    }

    #[inline(always)]
    fn uid(&self) -> u32 {
        bpf_get_current_uid_gid() as u32
    }

    #[inline(always)]
    fn ppid(&self) -> Option<u32> {
        let parent: u64 = self.read(self.task, self.off.task_real_parent)?;
        self.read::<i32>(parent, self.off.task_tgid)
            .map(|p| p as u32)
    }

    #[inline(always)]
    fn arg_range(&self) -> Option<(u64, u64)> {
        let mm: u64 = self.read(self.task, self.off.task_mm)?;
        Some((
            self.read(mm, self.off.mm_arg_start)?,
            self.read(mm, self.off.mm_arg_end)?,
        ))
    }

    #[inline(always)]
    unsafe fn path(&self, dst: *mut u8) -> (u32, bool) {
        let loc: u32 = field(self.ctx, OFF_FILENAME_LOC);
        let full = (loc >> 16).saturating_sub(1); // without the NUL
        let n = if full > PATH_BYTES as u32 {
            PATH_BYTES as u32
        } else {
            full
        };
        let src = self.ctx.as_ptr() as u64 + u64::from(loc & 0xffff);
        // SAFETY: `dst` has more than PATH_BYTES writable bytes and n <= PATH_BYTES; `src`
        // lies inside the tracepoint record (probing read).
        let rc = unsafe { generated::bpf_probe_read_kernel(dst.cast(), n, src as *const _) };
        if rc != 0 {
            return (0, full > 0);
        }
        (n, full > n)
    }

    #[inline(always)]
    fn task(&self) -> u64 {
        self.task
    }

    #[inline(always)]
    fn exe_file(&self) -> Option<u64> {
        let mm: u64 = self.read(self.task, self.off.task_mm)?;
        self.read::<u64>(mm, self.off.mm_exe_file)
            .filter(|f| *f != 0)
    }

    #[inline(always)]
    unsafe fn interp(&self, _dst: *mut u8) -> Option<bool> {
        None // the classic record has no linux_binprm
    }
}
