//! The `file_open` source's kernel programs. Built for `bpfel-unknown-none` by
//! `collector/build.rs` (aya-build) and embedded into the agent.
//!
//! Contract with user space (names are `kotel_common::file_open::names`, checked at
//! compile time; records are `kotel_common::file_open::FileOpenRecord`):
//! - `sys_enter_{openat,openat2,open,creat}` read the path argument into a per-CPU scratch
//!   record and look it up in the LPM trie `KOTEL_FILE_OPEN_PREFIXES`, which user space fills
//!   before attaching. A miss ends the handler: unwatched opens cost one user-string read and
//!   one trie lookup, and never reach user space.
//! - A hit that passes the kernel filters (`kotel_probes::filter::allows_process`, else
//!   `Filtered`) is remembered per thread in the LRU hash `KOTEL_FILE_OPEN_PENDING`.
//! - One exit program, attached to every matching `sys_exit_*`, completes the remembered
//!   record with the return value (fd or `-errno`), writes it to the ring buffer and deletes
//!   the entry. Nothing aborts: failures increment a `FileOpenStat` counter.
#![no_std]
#![no_main]

mod enter;
mod exit;

use aya_ebpf::{
    macros::{map, tracepoint},
    maps::{LpmTrie, LruHashMap, PerCpuArray, RingBuf},
    programs::TracePointContext,
    Global,
};
use kotel_common::{
    file_open::{names, FileOpenRecord, FileOpenStat, MAX_PENDING, MAX_PREFIXES, PATH_MAX_BYTES},
    str_eq,
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
/// Watched prefixes (bits + bytes) -> index in the configuration.
#[map]
static KOTEL_FILE_OPEN_PREFIXES: LpmTrie<[u8; PATH_MAX_BYTES], u32> =
    LpmTrie::with_max_entries(MAX_PREFIXES, 0);
/// Thread id -> watched open between its enter and its exit.
#[map]
static KOTEL_FILE_OPEN_PENDING: LruHashMap<u32, FileOpenRecord> =
    LruHashMap::with_max_entries(MAX_PENDING, 0);
/// The enter handlers' record under construction (too big for the 512-byte stack).
#[map]
static KOTEL_FILE_OPEN_SCRATCH: PerCpuArray<FileOpenRecord> = PerCpuArray::with_max_entries(1, 0);
/// Per-CPU `u64` counters indexed by [`FileOpenStat`].
#[map]
static KOTEL_FILE_OPEN_STATS: PerCpuArray<u64> =
    PerCpuArray::with_max_entries(FileOpenStat::COUNT, 0);

/// Wakeup threshold in bytes of unread data; 0 = wake on every submit.
#[unsafe(no_mangle)]
static KOTEL_FILE_OPEN_WAKEUP_BYTES: Global<u64> = Global::new(0);

same_name!(KOTEL_FILE_OPEN_EVENTS, names::EVENTS);
same_name!(KOTEL_FILE_OPEN_PREFIXES, names::PREFIXES);
same_name!(KOTEL_FILE_OPEN_PENDING, names::PENDING);
same_name!(KOTEL_FILE_OPEN_SCRATCH, names::SCRATCH);
same_name!(KOTEL_FILE_OPEN_STATS, names::STATS);
same_name!(KOTEL_FILE_OPEN_WAKEUP_BYTES, names::WAKEUP_BYTES);
same_name!(kotel_openat, names::PROG_ENTER_OPENAT);
same_name!(kotel_openat2, names::PROG_ENTER_OPENAT2);
same_name!(kotel_open, names::PROG_ENTER_OPEN);
same_name!(kotel_creat, names::PROG_ENTER_CREAT);
same_name!(kotel_open_exit, names::PROG_EXIT);

#[tracepoint]
pub fn kotel_openat(ctx: TracePointContext) -> u32 {
    match enter::openat(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

#[tracepoint]
pub fn kotel_openat2(ctx: TracePointContext) -> u32 {
    match enter::openat2(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

#[tracepoint]
pub fn kotel_open(ctx: TracePointContext) -> u32 {
    match enter::open(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

#[tracepoint]
pub fn kotel_creat(ctx: TracePointContext) -> u32 {
    match enter::creat(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

#[tracepoint]
pub fn kotel_open_exit(ctx: TracePointContext) -> u32 {
    match exit::exit(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

/// Increments one per-CPU stats counter.
#[inline(always)]
fn count(stat: FileOpenStat) {
    if let Some(p) = KOTEL_FILE_OPEN_STATS.get_ptr_mut(stat as u32) {
        // SAFETY: per-CPU slot of this CPU; a racing nested program may lose one increment.
        unsafe { *p += 1 };
    }
}
