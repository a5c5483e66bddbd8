//! Where one exec's facts come from, and the preferred source of them: the BTF tracepoint,
//! whose arguments are typed kernel pointers (`struct task_struct *`, `struct
//! linux_binprm *`) that the program dereferences directly (exception-safe loads checked
//! by the verifier against the kernel's BTF) instead of calling a probing-read helper per
//! field.

use aya_ebpf::{helpers::generated, programs::BtfTracePointContext};
use kotel_common::exec::{TaskOffsets, COMM_LEN, INTERP_BYTES, PATH_BYTES};

use super::KOTEL_EXEC_TASK_OFFSETS;

/// The current task right after a successful exec.
pub(crate) trait View {
    /// Task name after the exec, NUL padded.
    fn comm(&self) -> [u8; COMM_LEN];
    /// Thread-group id.
    fn pid(&self) -> u32;
    /// Real uid in the initial user namespace.
    fn uid(&self) -> u32;
    /// `real_parent->tgid`, `None` when it cannot be read.
    fn ppid(&self) -> Option<u32>;
    /// `(mm->arg_start, mm->arg_end)` of the new image, `None` when unknown.
    fn arg_range(&self) -> Option<(u64, u64)>;
    /// Copies the path to `dst`; returns the bytes kept (at most [`PATH_BYTES`]) and
    /// whether the path was longer.
    ///
    /// # Safety
    /// `dst` has `PATH_BYTES + 2` writable bytes (the two after the path may be clobbered).
    unsafe fn path(&self, dst: *mut u8) -> (u32, bool);
    /// The task's address (for probing reads).
    fn task(&self) -> u64;
    /// `mm->exe_file`: the file the new image runs (the interpreter of a script).
    fn exe_file(&self) -> Option<u64>;
    /// Copies the interpreter a `#!` script named (`bprm->interp`) to `dst` and returns
    /// `Some(true)`; `Some(false)` when no binary handler changed the interpreter (not a
    /// script); `None` when this view cannot tell.
    ///
    /// # Safety
    /// `dst` has `INTERP_BYTES` writable bytes.
    unsafe fn interp(&self, dst: *mut u8) -> Option<bool>;
}

/// `tp_btf/sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`.
pub(crate) struct BtfView {
    task: *const u8,
    bprm: *const u8,
    off: TaskOffsets,
}

impl BtfView {
    #[inline(always)]
    pub(crate) fn new(ctx: &BtfTracePointContext) -> Self {
        Self {
            task: ctx.arg(0),
            bprm: ctx.arg(2),
            off: KOTEL_EXEC_TASK_OFFSETS.load(),
        }
    }
}

/// A direct load of the field at `base + off`. The verifier knows `off` (a frozen global)
/// and types the result from BTF; a bad pointer reads as zero instead of faulting.
#[inline(always)]
fn load<T: Copy>(base: *const u8, off: u32) -> T {
    // SAFETY: see above; the load is rewritten into an exception-handled probe by the kernel.
    unsafe { core::ptr::read_volatile(base.add(off as usize).cast::<T>()) }
}

impl View for BtfView {
    #[inline(always)]
    fn comm(&self) -> [u8; COMM_LEN] {
        // Byte loads (the verifier allows no wider access to a `char[16]` member), folded
        // into two words as they come: sixteen separate bytes would each take a stack
        // slot.
        let word = |from: u32| {
            (0..8).fold(0u64, |w, i| {
                w | u64::from(load::<u8>(self.task, self.off.task_comm + from + i)) << (8 * i)
            })
        };
        let (lo, hi) = (word(0), word(8));
        let mut comm = [0u8; COMM_LEN];
        comm[..8].copy_from_slice(&lo.to_le_bytes());
        comm[8..].copy_from_slice(&hi.to_le_bytes());
        comm
    }

    #[inline(always)]
    fn pid(&self) -> u32 {
        load::<i32>(self.task, self.off.task_tgid) as u32
    }

    #[inline(always)]
    fn uid(&self) -> u32 {
        let cred: *const u8 = load(self.task, self.off.task_real_cred);
        load(cred, self.off.cred_uid)
    }

    #[inline(always)]
    fn ppid(&self) -> Option<u32> {
        let parent: *const u8 = load(self.task, self.off.task_real_parent);
        (!parent.is_null()).then(|| load::<i32>(parent, self.off.task_tgid) as u32)
    }

    #[inline(always)]
    fn arg_range(&self) -> Option<(u64, u64)> {
        let mm: *const u8 = load(self.task, self.off.task_mm);
        if mm.is_null() {
            return None;
        }
        Some((
            load(mm, self.off.mm_arg_start),
            load(mm, self.off.mm_arg_end),
        ))
    }

    #[inline(always)]
    unsafe fn path(&self, dst: *mut u8) -> (u32, bool) {
        let name: *const u8 = load(self.bprm, self.off.bprm_filename);
        // Reading PATH_BYTES + 2 tells "exactly PATH_BYTES" (PATH_BYTES + 1 with the NUL)
        // from "longer" (the buffer filled).
        const ROOM: u32 = PATH_BYTES as u32 + 2;
        // SAFETY: `dst` has ROOM writable bytes (caller); `name` is a kernel string
        // (probing read: a bad pointer fails).
        let n = unsafe { generated::bpf_probe_read_kernel_str(dst.cast(), ROOM, name.cast()) };
        if n <= 0 {
            return (0, false);
        }
        let chars = n as u32 - 1;
        if chars > PATH_BYTES as u32 {
            (PATH_BYTES as u32, true)
        } else {
            (chars, false)
        }
    }

    #[inline(always)]
    fn task(&self) -> u64 {
        self.task as u64
    }

    #[inline(always)]
    fn exe_file(&self) -> Option<u64> {
        let mm: *const u8 = load(self.task, self.off.task_mm);
        if mm.is_null() {
            return None;
        }
        let file: *const u8 = load(mm, self.off.mm_exe_file);
        (!file.is_null()).then_some(file as u64)
    }

    #[inline(always)]
    unsafe fn interp(&self, dst: *mut u8) -> Option<bool> {
        let interp: *const u8 = load(self.bprm, self.off.bprm_interp);
        let filename: *const u8 = load(self.bprm, self.off.bprm_filename);
        if interp == filename {
            return Some(false);
        }
        // SAFETY: `dst` has INTERP_BYTES writable bytes (caller); a probing read.
        let n = unsafe {
            generated::bpf_probe_read_kernel_str(dst.cast(), INTERP_BYTES as u32, interp.cast())
        };
        Some(n > 0)
    }
}
