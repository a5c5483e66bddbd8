//! `sock:inet_sock_set_state` -> [`TcpEvent`] records for the `tcp` source.
//!
//! Contract (what user space can rely on):
//! - Only `IPPROTO_TCP` transitions; one record per connect (SYN_SENT -> ESTABLISHED), accept
//!   (SYN_RECV -> ESTABLISHED), failed connect (SYN_SENT/SYN_RECV -> CLOSE) and close
//!   (established family -> CLOSE). Every full socket reaches CLOSE exactly once.
//! - The owner (pid, comm, cgroup) is the task that called connect() (remembered at
//!   CLOSE -> SYN_SENT in `KOTEL_TCP_SOCKS`, keyed by socket address) or, for accepted
//!   sockets, the task that called listen() (remembered at -> LISTEN in
//!   `KOTEL_TCP_LISTENERS`, keyed by netns, port and family), never the current task of a
//!   softirq. A transition without a remembered owner is still emitted with pid 0 and counted
//!   as `OwnerUnknown`. Entries are deleted at CLOSE, so the LRU maps only hold live sockets.
//! - Nothing here aborts: a failed read, insert or reserve increments a `TcpStat` counter.

use aya_ebpf::{
    bindings::{BPF_ANY, BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_ktime_get_ns, bpf_probe_read_kernel,
    },
    macros::{map, tracepoint},
    maps::{LruHashMap, PerCpuArray, RingBuf},
    programs::TracePointContext,
    EbpfContext, Global,
};
use kotel_common::{
    globals, maps, programs, str_eq,
    tcp::{
        state, ListenerKey, SockOffsets, SockOwner, TcpEvent, TcpEventKind, TcpStat, AF_INET,
        AF_INET6, COMM_LEN, DIRECTION_INBOUND, DIRECTION_OUTBOUND, DIRECTION_UNKNOWN,
        IPPROTO_TCP, TCP_EVENT_SIZE,
    },
};

/// Fails the build when an identifier the aya macros turn into an object-file name differs
/// from the shared constant user space looks it up by.
macro_rules! same_name {
    ($ident:ident, $constant:expr) => {
        const _: () = assert!(str_eq($constant, stringify!($ident)));
    };
}

/// Events to user space. Size set by the agent (`ring_buffer_bytes`).
#[map]
static KOTEL_TCP_EVENTS: RingBuf = RingBuf::with_byte_size(256 * 1024, 0);
/// Socket address -> owner of a connecting or established socket. Size set by the agent
/// (`max_tracked_sockets`).
#[map]
static KOTEL_TCP_SOCKS: LruHashMap<u64, SockOwner> = LruHashMap::with_max_entries(65_536, 0);
/// (netns, port, family) -> owner of a listening socket.
#[map]
static KOTEL_TCP_LISTENERS: LruHashMap<ListenerKey, SockOwner> =
    LruHashMap::with_max_entries(8_192, 0);
/// Per-CPU `u64` counters indexed by [`TcpStat`].
#[map]
static KOTEL_TCP_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(TcpStat::COUNT, 0);

/// Offsets to read a socket's netns inode; `valid == 0` means netns is reported as 0.
#[unsafe(no_mangle)]
static KOTEL_TCP_SOCK_OFFSETS: Global<SockOffsets> =
    Global::new(SockOffsets { valid: 0, sock_common_net: 0, net_ns_inum: 0, _pad: 0 });
/// Wakeup threshold in bytes of unread data; 0 = wake on every submit.
#[unsafe(no_mangle)]
static KOTEL_TCP_WAKEUP_BYTES: Global<u64> = Global::new(0);

same_name!(KOTEL_TCP_EVENTS, maps::TCP_EVENTS);
same_name!(KOTEL_TCP_SOCKS, maps::TCP_SOCKS);
same_name!(KOTEL_TCP_LISTENERS, maps::TCP_LISTENERS);
same_name!(KOTEL_TCP_STATS, maps::TCP_STATS);
same_name!(KOTEL_TCP_SOCK_OFFSETS, globals::TCP_SOCK_OFFSETS);
same_name!(KOTEL_TCP_WAKEUP_BYTES, globals::TCP_WAKEUP_BYTES);
same_name!(kotel_tcp_state, programs::TCP_STATE);

// Field offsets of the tracepoint record (stable format, see
// /sys/kernel/tracing/events/sock/inet_sock_set_state/format).
const OFF_SKADDR: usize = 8;
const OFF_OLDSTATE: usize = 16;
const OFF_NEWSTATE: usize = 20;
const OFF_SPORT: usize = 24;
const OFF_DPORT: usize = 26;
const OFF_FAMILY: usize = 28;
const OFF_PROTOCOL: usize = 30;
const OFF_SADDR: usize = 32;
const OFF_DADDR: usize = 36;
const OFF_SADDR_V6: usize = 40;
const OFF_DADDR_V6: usize = 56;

/// Ring buffer bytes one record takes (8-byte header + payload).
const RECORD_BYTES: u64 = TCP_EVENT_SIZE as u64 + 8;

#[tracepoint]
pub fn kotel_tcp_state(ctx: TracePointContext) -> u32 {
    match try_state(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

/// One observed transition.
struct Transition {
    sk: u64,
    old: u32,
    new: u32,
    now: u64,
}

/// Reads a tracepoint field directly from the context (a verifier-checked ctx load).
#[inline(always)]
fn field<T: Copy>(ctx: &TracePointContext, off: usize) -> T {
    // SAFETY: `off` is a field offset of the record format above, naturally aligned.
    unsafe { core::ptr::read(ctx.as_ptr().cast::<u8>().add(off).cast::<T>()) }
}

#[inline(always)]
fn count(stat: TcpStat) {
    if let Some(p) = KOTEL_TCP_STATS.get_ptr_mut(stat as u32) {
        // SAFETY: per-CPU slot of this CPU; a racing nested program may lose one increment.
        unsafe { *p += 1 };
    }
}

fn try_state(ctx: &TracePointContext) -> Result<u32, u32> {
    if field::<u16>(ctx, OFF_PROTOCOL) != IPPROTO_TCP {
        return Ok(0);
    }
    let old = field::<i32>(ctx, OFF_OLDSTATE) as u32;
    let new = field::<i32>(ctx, OFF_NEWSTATE) as u32;
    let t = Transition { sk: field::<u64>(ctx, OFF_SKADDR), old, new, now: 0 };
    match (old, new) {
        (state::CLOSE, state::SYN_SENT) => remember_connect(t),
        (_, state::LISTEN) => remember_listener(ctx, &t),
        (state::LISTEN, state::CLOSE) => forget_listener(ctx, &t),
        (state::SYN_SENT, state::ESTABLISHED) => connected(ctx, t),
        (state::SYN_RECV, state::ESTABLISHED) => accepted(ctx, t),
        (state::SYN_SENT, state::CLOSE) => closed(ctx, t, TcpEventKind::ConnectFailed),
        (state::SYN_RECV, state::CLOSE) => failed_inbound(ctx, t),
        (o, state::CLOSE) if state::is_established_family(o) => {
            closed(ctx, t, TcpEventKind::Close)
        }
        _ => Ok(0),
    }
}

/// The current task as owner: only meaningful in process context (connect, listen).
#[inline(always)]
fn current_owner(sk: u64, direction: u32, start_ns: u64) -> SockOwner {
    SockOwner {
        start_ns,
        established_ns: 0,
        sock_id: sk,
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
        pid: (bpf_get_current_pid_tgid() >> 32) as u32,
        direction,
        comm: bpf_get_current_comm().unwrap_or([0; COMM_LEN]),
    }
}

#[inline(always)]
fn unknown_owner(sk: u64, direction: u32) -> SockOwner {
    SockOwner {
        start_ns: 0,
        established_ns: 0,
        sock_id: sk,
        cgroup_id: 0,
        pid: 0,
        direction,
        comm: [0; COMM_LEN],
    }
}

fn remember_connect(t: Transition) -> Result<u32, u32> {
    let owner = current_owner(t.sk, DIRECTION_OUTBOUND, unsafe { bpf_ktime_get_ns() });
    if KOTEL_TCP_SOCKS.insert(t.sk, owner, BPF_ANY as u64).is_err() {
        count(TcpStat::OwnerMapFull);
    }
    Ok(0)
}

/// Inode of the socket's network namespace, 0 when the offsets are unknown or a read fails.
#[inline(always)]
fn netns(sk: u64) -> u32 {
    let off = KOTEL_TCP_SOCK_OFFSETS.load();
    if off.valid == 0 {
        return 0;
    }
    let net = unsafe { bpf_probe_read_kernel((sk + off.sock_common_net as u64) as *const u64) };
    let inum = match net {
        Ok(net) if net != 0 => unsafe {
            bpf_probe_read_kernel((net + off.net_ns_inum as u64) as *const u32)
        },
        _ => Err(0),
    };
    inum.unwrap_or_else(|_| {
        count(TcpStat::ReadError);
        0
    })
}

#[inline(always)]
fn listener_key(ctx: &TracePointContext, sk: u64) -> ListenerKey {
    ListenerKey { netns: netns(sk), port: field::<u16>(ctx, OFF_SPORT), family: field(ctx, OFF_FAMILY) }
}

fn remember_listener(ctx: &TracePointContext, t: &Transition) -> Result<u32, u32> {
    let owner = current_owner(t.sk, DIRECTION_INBOUND, 0);
    if KOTEL_TCP_LISTENERS.insert(listener_key(ctx, t.sk), owner, BPF_ANY as u64).is_err() {
        count(TcpStat::OwnerMapFull);
    }
    Ok(0)
}

fn forget_listener(ctx: &TracePointContext, t: &Transition) -> Result<u32, u32> {
    let key = listener_key(ctx, t.sk);
    // Only the socket that recorded the entry removes it (SO_REUSEPORT siblings share a key).
    if let Some(o) = unsafe { KOTEL_TCP_LISTENERS.get(&key) } {
        if o.sock_id == t.sk {
            let _ = KOTEL_TCP_LISTENERS.remove(&key);
        }
    }
    Ok(0)
}

/// Owner of the listener an accepted socket came from; tries the other family too (a
/// dual-stack listener).
#[inline(always)]
fn listener_owner(ctx: &TracePointContext, sk: u64) -> Option<SockOwner> {
    let key = listener_key(ctx, sk);
    if let Some(o) = unsafe { KOTEL_TCP_LISTENERS.get(&key) } {
        return Some(*o);
    }
    let family = if key.family == AF_INET { AF_INET6 } else { AF_INET };
    unsafe { KOTEL_TCP_LISTENERS.get(&ListenerKey { family, ..key }) }.copied()
}

fn connected(ctx: &TracePointContext, mut t: Transition) -> Result<u32, u32> {
    t.now = unsafe { bpf_ktime_get_ns() };
    let owner = match KOTEL_TCP_SOCKS.get_ptr_mut(&t.sk) {
        Some(p) => {
            // SAFETY: value of a live entry; only this socket's transitions touch it.
            let o = unsafe { &mut *p };
            o.established_ns = t.now;
            *o
        }
        None => {
            count(TcpStat::OwnerUnknown);
            let mut o = unknown_owner(t.sk, DIRECTION_OUTBOUND);
            o.established_ns = t.now;
            if KOTEL_TCP_SOCKS.insert(t.sk, o, BPF_ANY as u64).is_err() {
                count(TcpStat::OwnerMapFull);
            }
            o
        }
    };
    let m = Measured { kind: TcpEventKind::Connect, connect_latency_ns: latency(&owner), duration_ns: 0 };
    emit(ctx, &t, &owner, &m);
    Ok(0)
}

fn accepted(ctx: &TracePointContext, mut t: Transition) -> Result<u32, u32> {
    t.now = unsafe { bpf_ktime_get_ns() };
    let mut owner = listener_owner(ctx, t.sk).unwrap_or_else(|| {
        count(TcpStat::OwnerUnknown);
        unknown_owner(t.sk, DIRECTION_INBOUND)
    });
    owner.sock_id = t.sk;
    owner.start_ns = 0;
    owner.established_ns = t.now;
    if KOTEL_TCP_SOCKS.insert(t.sk, owner, BPF_ANY as u64).is_err() {
        count(TcpStat::OwnerMapFull);
    }
    emit(ctx, &t, &owner, &Measured { kind: TcpEventKind::Accept, connect_latency_ns: 0, duration_ns: 0 });
    Ok(0)
}

/// Close of an established socket, or a failed outbound connect: the owner entry is used
/// and deleted.
fn closed(ctx: &TracePointContext, mut t: Transition, kind: TcpEventKind) -> Result<u32, u32> {
    t.now = unsafe { bpf_ktime_get_ns() };
    let owner = match unsafe { KOTEL_TCP_SOCKS.get(&t.sk) } {
        Some(o) => {
            let o = *o;
            let _ = KOTEL_TCP_SOCKS.remove(&t.sk);
            o
        }
        None => {
            count(TcpStat::OwnerUnknown);
            let dir = if t.old == state::SYN_SENT { DIRECTION_OUTBOUND } else { DIRECTION_UNKNOWN };
            unknown_owner(t.sk, dir)
        }
    };
    let duration = match kind {
        TcpEventKind::Close if owner.established_ns != 0 => t.now.saturating_sub(owner.established_ns),
        _ => 0,
    };
    let m = Measured { kind, connect_latency_ns: latency(&owner), duration_ns: duration };
    emit(ctx, &t, &owner, &m);
    Ok(0)
}

fn failed_inbound(ctx: &TracePointContext, mut t: Transition) -> Result<u32, u32> {
    t.now = unsafe { bpf_ktime_get_ns() };
    let _ = KOTEL_TCP_SOCKS.remove(&t.sk);
    let owner = listener_owner(ctx, t.sk).unwrap_or_else(|| {
        count(TcpStat::OwnerUnknown);
        unknown_owner(t.sk, DIRECTION_INBOUND)
    });
    let m = Measured { kind: TcpEventKind::ConnectFailed, connect_latency_ns: 0, duration_ns: 0 };
    emit(ctx, &t, &owner, &m);
    Ok(0)
}

/// Connect latency of an outbound socket whose connect() the program saw, else 0.
#[inline(always)]
fn latency(o: &SockOwner) -> u64 {
    if o.start_ns != 0 && o.established_ns > o.start_ns {
        o.established_ns - o.start_ns
    } else {
        0
    }
}

#[inline(always)]
fn addr(ctx: &TracePointContext, family: u16, off_v4: usize, off_v6: usize) -> [u8; 16] {
    // SAFETY: both arrays are 16 bytes of plain integers.
    if family == AF_INET6 {
        unsafe { core::mem::transmute::<[u64; 2], [u8; 16]>(field(ctx, off_v6)) }
    } else {
        let v4: u32 = field(ctx, off_v4);
        unsafe { core::mem::transmute::<[u32; 4], [u8; 16]>([v4, 0, 0, 0]) }
    }
}

/// Measurements of one record (BPF calls take at most five arguments).
struct Measured {
    kind: TcpEventKind,
    connect_latency_ns: u64,
    duration_ns: u64,
}

fn emit(ctx: &TracePointContext, t: &Transition, owner: &SockOwner, m: &Measured) {
    let family: u16 = field(ctx, OFF_FAMILY);
    let ev = TcpEvent {
        timestamp_ns: t.now,
        connect_latency_ns: m.connect_latency_ns,
        duration_ns: m.duration_ns,
        cgroup_id: owner.cgroup_id,
        sock_id: t.sk,
        kind: m.kind as u32,
        direction: owner.direction,
        pid: owner.pid,
        netns: netns(t.sk),
        old_state: t.old,
        new_state: t.new,
        family,
        local_port: field(ctx, OFF_SPORT),
        remote_port: field(ctx, OFF_DPORT),
        _pad: 0,
        local_addr: addr(ctx, family, OFF_SADDR, OFF_SADDR_V6),
        remote_addr: addr(ctx, family, OFF_DADDR, OFF_DADDR_V6),
        comm: owner.comm,
    };
    let wake = KOTEL_TCP_WAKEUP_BYTES.load();
    let flags = if wake == 0 {
        0
    } else {
        // Wake the reader once per fill cycle: when this record crosses the threshold.
        let avail = KOTEL_TCP_EVENTS.query(BPF_RB_AVAIL_DATA as u64);
        if avail < wake && avail + RECORD_BYTES >= wake {
            count(TcpStat::Wakeup);
            BPF_RB_FORCE_WAKEUP as u64
        } else {
            BPF_RB_NO_WAKEUP as u64
        }
    };
    match KOTEL_TCP_EVENTS.output::<TcpEvent>(&ev, flags) {
        Ok(()) => count(TcpStat::Emitted),
        Err(_) => count(TcpStat::RingbufFull),
    }
}
