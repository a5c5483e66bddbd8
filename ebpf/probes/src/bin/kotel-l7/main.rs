//! The `l7` source's kernel programs: TCP sockets followed from `connect`/`accept` to
//! `close`, and the first bytes of every read and write on them. Built for
//! `bpfel-unknown-none` by `collector/build.rs` (aya-build) and embedded into the agent.
//!
//! Contract with user space (names are `kotel_common::l7::names`, checked at compile
//! time; records and stats are `kotel_common::l7`):
//! - [`follow`]: a successful `connect` (or one in progress) and every `accept`/`accept4`
//!   read the socket behind the descriptor; a TCP socket over IPv4/IPv6 of a process the
//!   kernel filters admit (not the agent itself) is followed (`KOTEL_L7_SOCKETS`) and an
//!   open record sent.
//! - [`io`]: the enter of a read or write on a descriptor that is not followed costs one
//!   hash lookup, its exit one array slot check. On a followed socket the enter keeps
//!   its arguments in the thread's slot and the exit copies the first `capture_bytes` of
//!   what moved. The connection's first 4 bytes (gathered over reads and writes if they
//!   come a few at a time) classify it: HTTP/1.x is followed on, anything else is
//!   forgotten (an ignored record says why).
//! - A copy of a followed descriptor (`dup`, `dup2`, `dup3`, `fcntl(F_DUPFD)`) is followed
//!   as the same connection. `close` of a followed descriptor forgets it; the close of
//!   the descriptor the connection was opened as sends a close record.
//! - Nothing aborts: failures increment an `L7Stat` counter.
#![no_std]
#![no_main]

mod follow;
mod io;
mod scratch;

use aya_ebpf::{
    macros::{map, tracepoint},
    maps::{Array, LruHashMap, PerCpuArray, RingBuf},
    programs::TracePointContext,
    Global,
};
use kotel_common::{
    l7::{names, L7Key, L7Stat, L7State, SockFields, MAX_SOCKETS, SLOTS},
    str_eq,
    vfs::VfsFields,
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
static KOTEL_L7_EVENTS: RingBuf = RingBuf::with_byte_size(1024 * 1024, 0);
/// Per-CPU `u64` counters indexed by [`L7Stat`].
#[map]
static KOTEL_L7_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(L7Stat::COUNT, 0);
/// The followed sockets.
#[map]
static KOTEL_L7_SOCKETS: LruHashMap<L7Key, L7State> = LruHashMap::with_max_entries(MAX_SOCKETS, 0);
/// Each syscall's arguments from enter to exit, slot `tid % SLOTS`.
#[map]
static KOTEL_L7_SLOTS: Array<io::Slot> = Array::with_max_entries(SLOTS, 0);
/// One record under construction (too big for the 512-byte stack).
#[map]
static KOTEL_L7_SCRATCH: PerCpuArray<scratch::Scratch> = PerCpuArray::with_max_entries(1, 0);

/// Payload bytes captured per read or write.
#[unsafe(no_mangle)]
static KOTEL_L7_CAPTURE_BYTES: Global<u32> = Global::new(1024);
/// The agent's own thread-group id: its sockets are not followed.
#[unsafe(no_mangle)]
static KOTEL_L7_OWN_TGID: Global<u32> = Global::new(0);
/// Wake the reader at this many unread bytes; 0: on every record.
#[unsafe(no_mangle)]
static KOTEL_L7_WAKEUP_BYTES: Global<u64> = Global::new(0);
/// VFS offsets of the running kernel (the file behind a descriptor).
#[unsafe(no_mangle)]
static KOTEL_L7_VFS_FIELDS: Global<VfsFields> = Global::new(VfsFields::UNKNOWN);
/// Socket offsets of the running kernel.
#[unsafe(no_mangle)]
static KOTEL_L7_SOCK_FIELDS: Global<SockFields> = Global::new(SockFields {
    valid: 0,
    file_private_data: 0,
    socket_type: 0,
    socket_sk: 0,
    skc_family: 0,
    skc_num: 0,
    skc_dport: 0,
    skc_rcv_saddr: 0,
    skc_daddr: 0,
    skc_v6_rcv_saddr: 0,
    skc_v6_daddr: 0,
});

same_name!(KOTEL_L7_EVENTS, names::EVENTS);
same_name!(KOTEL_L7_STATS, names::STATS);
same_name!(KOTEL_L7_SOCKETS, names::SOCKETS);
same_name!(KOTEL_L7_SLOTS, names::SLOTS);
same_name!(KOTEL_L7_SCRATCH, names::SCRATCH);
same_name!(KOTEL_L7_CAPTURE_BYTES, names::CAPTURE_BYTES);
same_name!(KOTEL_L7_OWN_TGID, names::OWN_TGID);
same_name!(KOTEL_L7_WAKEUP_BYTES, names::WAKEUP_BYTES);
same_name!(KOTEL_L7_VFS_FIELDS, names::VFS_FIELDS);
same_name!(KOTEL_L7_SOCK_FIELDS, names::SOCK_FIELDS);
same_name!(kotel_l7_enter_recv, names::ENTER_RECV);
same_name!(kotel_l7_enter_recvfrom, names::ENTER_RECVFROM);
same_name!(kotel_l7_enter_send, names::ENTER_SEND);
same_name!(kotel_l7_enter_readv, names::ENTER_READV);
same_name!(kotel_l7_enter_writev, names::ENTER_WRITEV);
same_name!(kotel_l7_enter_recvmsg, names::ENTER_RECVMSG);
same_name!(kotel_l7_enter_sendmsg, names::ENTER_SENDMSG);
same_name!(kotel_l7_enter_sendfile, names::ENTER_SENDFILE);
same_name!(kotel_l7_enter_connect, names::ENTER_CONNECT);
same_name!(kotel_l7_enter_dup, names::ENTER_DUP);
same_name!(kotel_l7_enter_fcntl, names::ENTER_FCNTL);
same_name!(kotel_l7_exit, names::EXIT);
same_name!(kotel_l7_exit_accept, names::EXIT_ACCEPT);
same_name!(kotel_l7_enter_close, names::ENTER_CLOSE);

#[tracepoint]
pub fn kotel_l7_enter_recv(ctx: TracePointContext) -> u32 {
    io::enter(&ctx, io::Op::Recv);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_recvfrom(ctx: TracePointContext) -> u32 {
    io::enter_recvfrom(&ctx);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_send(ctx: TracePointContext) -> u32 {
    io::enter(&ctx, io::Op::Send);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_readv(ctx: TracePointContext) -> u32 {
    io::enter(&ctx, io::Op::Readv);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_writev(ctx: TracePointContext) -> u32 {
    io::enter(&ctx, io::Op::Writev);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_recvmsg(ctx: TracePointContext) -> u32 {
    io::enter(&ctx, io::Op::Recvmsg);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_sendmsg(ctx: TracePointContext) -> u32 {
    io::enter(&ctx, io::Op::Sendmsg);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_sendfile(ctx: TracePointContext) -> u32 {
    io::enter(&ctx, io::Op::Sendfile);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_connect(ctx: TracePointContext) -> u32 {
    io::enter_connect(&ctx);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_dup(ctx: TracePointContext) -> u32 {
    io::enter_dup(&ctx);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_fcntl(ctx: TracePointContext) -> u32 {
    io::enter_fcntl(&ctx);
    0
}

#[tracepoint]
pub fn kotel_l7_exit(ctx: TracePointContext) -> u32 {
    io::exit(&ctx);
    0
}

#[tracepoint]
pub fn kotel_l7_exit_accept(ctx: TracePointContext) -> u32 {
    follow::accepted(&ctx);
    0
}

#[tracepoint]
pub fn kotel_l7_enter_close(ctx: TracePointContext) -> u32 {
    follow::closing(&ctx);
    0
}

/// Increments one per-CPU stats counter.
#[inline(always)]
fn count(stat: L7Stat) {
    if let Some(p) = KOTEL_L7_STATS.get_ptr_mut(stat as u32) {
        // SAFETY: per-CPU slot of this CPU; a racing nested program may lose one increment.
        unsafe { *p += 1 };
    }
}
