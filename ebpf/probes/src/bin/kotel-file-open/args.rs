//! An open's arguments at its exit, from one of two places:
//! - **the task's saved user registers** (`bpf_task_pt_regs`; the agent uses it from 6.1): no
//!   enter program runs, and the exit reads them only when it needs them (a failed open, to
//!   match its requested path; a match, to report them);
//! - **the argument table** the enter programs fill (older kernels, or a refused load): the exit takes this
//!   thread's slot at once, whatever the open turns out to be.
//!
//! Which one is the agent's choice ([`SyscallRegs`] in `KOTEL_FILE_OPEN_REGS`).

use aya_ebpf::helpers::{bpf_probe_read_user, generated};
use kotel_common::file_open::{syscall, FileOpenStat, OpenArgs, SyscallRegs, ARG_SLOTS};
use kotel_common::vfs::FILE_SPAN;
use kotel_probes::{
    mem::copy_words,
    vfs::{member, read_span, Span},
};

use super::{count, KOTEL_FILE_OPEN_ARGS, KOTEL_FILE_OPEN_REGS};

/// `AT_FDCWD`: a path relative to the working directory.
pub(super) const AT_FDCWD: i32 = -100;
/// `O_WRONLY | O_CREAT | O_TRUNC`: what creat(2) means (asm-generic values, as on x86_64).
const CREAT_FLAGS: u32 = 0o1 | 0o100 | 0o1000;

/// Where an exit stands with its open's arguments (`Work::args_state`).
pub(super) mod state {
    /// Not known: lost from the table, or unreadable.
    pub const NONE: u32 = 0;
    /// In `Work::args`.
    pub const HELD: u32 = 1;
    /// Not read yet: in the task's registers, read when needed.
    pub const IN_REGS: u32 = 2;

    /// [`HELD`] when `ok`, else [`NONE`].
    #[inline(always)]
    pub fn held_if(ok: bool) -> u32 {
        if ok {
            HELD
        } else {
            NONE
        }
    }
}

/// Fills `dst` (but `pid_tgid` and `syscall_nr`) for syscall `id` (a [`syscall`] id) whose
/// raw argument `i` is `arg(i)`:
/// `openat(dfd, filename, flags, mode)`, `openat2(dfd, filename, how, size)` (the flags
/// are `how->flags`, read when reported), `open(filename, flags, mode)`,
/// `creat(pathname, mode)`.
#[inline(always)]
pub(super) fn decode(id: u32, arg: impl Fn(usize) -> u64, dst: &mut OpenArgs) {
    dst.syscall = id;
    dst.how = 0;
    match id {
        syscall::OPENAT | syscall::OPENAT2 => {
            dst.dfd = arg(0) as i32;
            dst.filename = arg(1);
            if id == syscall::OPENAT2 {
                dst.how = arg(2);
                dst.flags = 0;
            } else {
                dst.flags = arg(2) as u32;
            }
        }
        syscall::OPEN => {
            dst.dfd = AT_FDCWD;
            dst.filename = arg(0);
            dst.flags = arg(1) as u32;
        }
        _ => {
            dst.dfd = AT_FDCWD;
            dst.filename = arg(0);
            dst.flags = CREAT_FLAGS;
        }
    }
}

/// The agent's [`SyscallRegs`], read field by field from the global (each read is a
/// constant to the verifier).
struct Regs(*const SyscallRegs);

impl Regs {
    #[inline(always)]
    fn get() -> Self {
        // `Global<T>` is `repr(transparent)` over `T`.
        Self(core::ptr::addr_of!(KOTEL_FILE_OPEN_REGS).cast())
    }

    #[inline(always)]
    fn valid(&self) -> bool {
        // SAFETY: a field of the program's global.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.0).valid)) != 0 }
    }
}

/// Whether the exit reads the arguments from the registers (no enter programs run).
#[inline(always)]
pub(super) fn in_regs() -> bool {
    Regs::get().valid()
}

/// The arguments of the open returning now (syscall number `syscall_nr`) from the saved
/// user registers of `task` into `dst`; false for a syscall number the agent did not name
/// or a failed read. `span` is scratch.
///
/// # Safety
/// Called from a `sys_exit_*` program; `task` is the current task as a BTF pointer
/// (`bpf_get_current_task_btf`), so its registers are the syscall's.
#[inline(always)]
pub(super) unsafe fn from_regs(
    task: u64,
    pid_tgid: u64,
    syscall_nr: u32,
    dst: &mut OpenArgs,
    span: &mut Span,
) -> bool {
    let regs = Regs::get();
    let field = |p: *const u32| {
        // SAFETY: a field of the program's global.
        unsafe { core::ptr::read_volatile(p) }
    };
    let mut id = syscall::UNKNOWN;
    for i in 0..4 {
        // SAFETY: `i < 4`, inside the array.
        if field(unsafe { core::ptr::addr_of!((*regs.0).numbers[i]) }) == syscall_nr {
            id = i as u32 + 1;
        }
    }
    if id == syscall::UNKNOWN {
        return false;
    }
    // SAFETY: `task` is a BTF task pointer (caller).
    let pt = unsafe { generated::bpf_task_pt_regs(task as *mut _) } as u64;
    // SAFETY: fields of the program's global.
    let start = field(unsafe { core::ptr::addr_of!((*regs.0).span) });
    if read_span(span, pt, start, FILE_SPAN).is_none() {
        count(FileOpenStat::ReadError);
        return false;
    }
    let offset = |i: usize| field(unsafe { core::ptr::addr_of!((*regs.0).args[i & 3]) });
    decode(id, |i| member(span, start, offset(i)), dst);
    dst.pid_tgid = pid_tgid;
    dst.syscall_nr = syscall_nr;
    true
}

/// Copies this thread's arguments of the open returning now from the argument table into
/// `dst` and frees the slot; false when the slot has another owner (the arguments are
/// lost).
///
/// # Safety
/// `dst` is writable.
#[inline(always)]
pub(super) unsafe fn from_table(pid_tgid: u64, syscall_nr: u32, dst: &mut OpenArgs) -> bool {
    let Some(slot) = KOTEL_FILE_OPEN_ARGS.get_ptr_mut(pid_tgid as u32 & (ARG_SLOTS - 1)) else {
        return false;
    };
    // SAFETY: an array slot (see `enter::keep` for concurrent writers); both values are
    // 8-byte aligned OpenArgs.
    unsafe {
        if (*slot).pid_tgid != pid_tgid || (*slot).syscall_nr != syscall_nr {
            return false;
        }
        copy_words(dst, &*slot);
        (*slot).pid_tgid = 0;
    }
    true
}

/// The flags the open requested (`how->flags` for openat2), 0 when unreadable.
#[inline(always)]
pub(super) fn requested_flags(args: &OpenArgs) -> u32 {
    if args.syscall != syscall::OPENAT2 {
        return args.flags;
    }
    // SAFETY: user pointer read through the helper; a bad pointer is an error, not a fault.
    match unsafe { bpf_probe_read_user(args.how as *const u64) } {
        Ok(f) => f as u32,
        Err(_) => {
            count(FileOpenStat::ReadError);
            0
        }
    }
}
