//! The `file_open` source's kernel programs. Built for `bpfel-unknown-none` by
//! `collector/build.rs` (aya-build) and embedded into the agent.
//!
//! Contract with user space (names are `kotel_common::file_open::names`, checked at
//! compile time; records are `kotel_common::file_open::FileOpenRecord`; the matching rules
//! are in `kotel_common::file_open`):
//! - One exit program, attached to every matching `sys_exit_*`, matches the open
//!   ([`matching`]) with its arguments from the task's saved registers, or, on kernels
//!   without `bpf_task_pt_regs` (before 5.15), from the argument table that
//!   `sys_enter_{openat,openat2,open,creat}` fill ([`args`]).
//! - For a match that passes the kernel filters
//!   (`kotel_probes::filter::allows_process`, else `Filtered`), the exit fills a record
//!   ([`report`]) and writes it to the ring buffer. Unwatched opens never reach user space.
//! - User space fills `KOTEL_FILE_OPEN_PREFIXES`, `_INODES`, `_NAMES` and `_INODE_FILTER`
//!   before attaching and keeps them current. Nothing aborts: failures increment a
//!   `FileOpenStat` counter.
#![no_std]
#![no_main]

mod args;
mod enter;
mod exit;
mod matching;
mod report;
mod work;

use aya_ebpf::{
    macros::{map, tracepoint},
    maps::{Array, HashMap, LpmTrie, PerCpuArray, RingBuf},
    programs::TracePointContext,
    Global,
};
use kotel_common::{
    file_open::{
        names, syscall, FileOpenStat, NameKey, OpenArgs, SyscallRegs, Watch, ARG_SLOTS,
        FILTER_ARRAY_WORDS, MAX_INODES, MAX_PREFIXES, PATH_MAX_BYTES,
    },
    str_eq,
    vfs::{InodeKey, VfsFields},
};

kotel_probes::program_object!();

/// Fails the build when an identifier the aya macros turn into an object-file name differs
/// from the shared constant user space looks it up by.
macro_rules! same_name {
    ($ident:ident, $constant:expr) => {
        const _: () = assert!(str_eq($constant, stringify!($ident)));
    };
}

/// Records to user space. Size set by the agent (`ring_buffer_bytes`).
#[map]
static KOTEL_FILE_OPEN_EVENTS: RingBuf = RingBuf::with_byte_size(256 * 1024, 0);
/// Watched paths (bits + bytes) -> index in the configuration.
#[map]
static KOTEL_FILE_OPEN_PREFIXES: LpmTrie<[u8; PATH_MAX_BYTES], u32> =
    LpmTrie::with_max_entries(MAX_PREFIXES, 0);
/// Watched inodes.
#[map]
static KOTEL_FILE_OPEN_INODES: HashMap<InodeKey, Watch> = HashMap::with_max_entries(MAX_INODES, 0);
/// Watched files' names in their directories -> index in the configuration.
#[map]
static KOTEL_FILE_OPEN_NAMES: HashMap<NameKey, u32> = HashMap::with_max_entries(MAX_INODES, 0);
/// Bit filters of the watched inode numbers, and the watched names' lengths.
#[map]
static KOTEL_FILE_OPEN_INODE_FILTER: Array<u64> = Array::with_max_entries(FILTER_ARRAY_WORDS, 0);
/// Each open's arguments from enter to exit, slot `tid % ARG_SLOTS` (unused when the exit
/// reads them from the task's registers: the agent then sizes it to one slot).
#[map]
static KOTEL_FILE_OPEN_ARGS: Array<OpenArgs> = Array::with_max_entries(ARG_SLOTS, 0);
/// The exit handler's working state (too big for the 512-byte stack).
#[map]
static KOTEL_FILE_OPEN_SCRATCH: PerCpuArray<work::Work> = PerCpuArray::with_max_entries(1, 0);
/// Per-CPU `u64` counters indexed by [`FileOpenStat`].
#[map]
static KOTEL_FILE_OPEN_STATS: PerCpuArray<u64> =
    PerCpuArray::with_max_entries(FileOpenStat::COUNT, 0);

/// Wakeup threshold in bytes of unread data; 0 = wake on every submit.
#[unsafe(no_mangle)]
static KOTEL_FILE_OPEN_WAKEUP_BYTES: Global<u64> = Global::new(0);
/// The agent's own thread-group id: its opens are not reported.
#[unsafe(no_mangle)]
static KOTEL_FILE_OPEN_OWN_TGID: Global<u32> = Global::new(0);
/// VFS offsets of the running kernel; `valid == 0`: match requested paths only.
#[unsafe(no_mangle)]
static KOTEL_FILE_OPEN_VFS_FIELDS: Global<VfsFields> = Global::new(VfsFields::UNKNOWN);
/// Where the exit reads the open's arguments itself; `valid == 0`: from the argument table.
#[unsafe(no_mangle)]
static KOTEL_FILE_OPEN_REGS: Global<SyscallRegs> = Global::new(SyscallRegs::UNKNOWN);
/// BTF id of `struct file` where the kernel has `bpf_rdonly_cast` (6.2+), else 0.
#[unsafe(no_mangle)]
static KOTEL_FILE_OPEN_FILE_BTF_ID: Global<u32> = Global::new(0);

same_name!(KOTEL_FILE_OPEN_EVENTS, names::EVENTS);
same_name!(KOTEL_FILE_OPEN_PREFIXES, names::PREFIXES);
same_name!(KOTEL_FILE_OPEN_INODES, names::INODES);
same_name!(KOTEL_FILE_OPEN_NAMES, names::NAMES);
same_name!(KOTEL_FILE_OPEN_INODE_FILTER, names::INODE_FILTER);
same_name!(KOTEL_FILE_OPEN_ARGS, names::ARGS);
same_name!(KOTEL_FILE_OPEN_SCRATCH, names::SCRATCH);
same_name!(KOTEL_FILE_OPEN_STATS, names::STATS);
same_name!(KOTEL_FILE_OPEN_WAKEUP_BYTES, names::WAKEUP_BYTES);
same_name!(KOTEL_FILE_OPEN_VFS_FIELDS, names::VFS_FIELDS);
same_name!(KOTEL_FILE_OPEN_OWN_TGID, names::OWN_TGID);
same_name!(KOTEL_FILE_OPEN_REGS, names::REGS);
same_name!(KOTEL_FILE_OPEN_FILE_BTF_ID, names::FILE_BTF_ID);
same_name!(kotel_openat, names::PROG_ENTER_OPENAT);
same_name!(kotel_openat2, names::PROG_ENTER_OPENAT2);
same_name!(kotel_open, names::PROG_ENTER_OPEN);
same_name!(kotel_creat, names::PROG_ENTER_CREAT);
same_name!(kotel_open_exit, names::PROG_EXIT);

#[tracepoint]
pub fn kotel_openat(ctx: TracePointContext) -> u32 {
    enter::keep(&ctx, syscall::OPENAT);
    0
}

#[tracepoint]
pub fn kotel_openat2(ctx: TracePointContext) -> u32 {
    enter::keep(&ctx, syscall::OPENAT2);
    0
}

#[tracepoint]
pub fn kotel_open(ctx: TracePointContext) -> u32 {
    enter::keep(&ctx, syscall::OPEN);
    0
}

#[tracepoint]
pub fn kotel_creat(ctx: TracePointContext) -> u32 {
    enter::keep(&ctx, syscall::CREAT);
    0
}

#[tracepoint]
pub fn kotel_open_exit(ctx: TracePointContext) -> u32 {
    exit::exit(&ctx);
    0
}

/// Increments one per-CPU stats counter.
#[inline(always)]
fn count(stat: FileOpenStat) {
    if let Some(p) = KOTEL_FILE_OPEN_STATS.get_ptr_mut(stat as u32) {
        // SAFETY: per-CPU slot of this CPU; a racing nested program may lose one increment.
        unsafe { *p += 1 };
    }
}
