//! `sock:inet_sock_set_state` -> [`TcpEvent`] records for the `tcp` source.
//!
//! Contract (what user space can rely on):
//! - Only `IPPROTO_TCP` transitions; one record per connect (SYN_SENT -> ESTABLISHED), accept
//!   (SYN_RECV -> ESTABLISHED), failed connect (SYN_SENT/SYN_RECV -> CLOSE) and close
//!   (established family -> CLOSE). Every full socket reaches CLOSE exactly once.
//! - The owner (pid, comm, cgroup) is the task that called connect() (remembered at
//!   CLOSE -> SYN_SENT in `KOTEL_TCP_SOCKS`, keyed by socket address) or, for accepted
//!   sockets, the task that first called listen() on the port (remembered at -> LISTEN in
//!   `KOTEL_TCP_LISTENERS`, keyed by netns, port and family, with a count of the sockets
//!   listening there, so `SO_REUSEPORT` siblings keep it until the last closes), never the
//!   current task of a softirq. A transition without a remembered owner is still emitted
//!   with pid 0 and counted as `OwnerUnknown`. Entries are deleted at CLOSE, so the maps
//!   only hold live sockets;
//!   when a map is full a new socket is not tracked (counted as `OwnerMapFull`), and its
//!   later events carry pid 0. Nothing is ever evicted silently.
//! - Close and failed-connect records carry the connection's bytes, RTTs, retransmits and
//!   resets ([`sock`], [`counters`]); outbound connects also feed the owner cgroup's
//!   `tcp_connect_latency` histogram, and [`rtt`] its `tcp_rtt` histogram ([`agg`]).
//! - Nothing here aborts: a failed read, insert or reserve increments a `TcpStat` counter.
//!
//! Stack: tracing programs on 5.10-6.12 kernels share 512 bytes across the whole call
//! chain, and subprogram frames add up. So a run keeps its state (transition, owner,
//! statistics) in the per-CPU [`work::Work`] scratch map instead of on the stack, every
//! handler is `#[inline(always)]`, and map values are copied and zeroed in words
//! (`kotel_probes::mem`) rather than by LLVM's byte-wise `memmove`/`memset` subprograms:
//! the program is one frame of register spills and map keys (88 bytes on every kernel of
//! the matrix). `kotel doctor` and the load-combination test read each kernel's figure
//! from its verifier.

mod agg;
mod counters;
mod emit;
mod owner;
mod record;
mod rtt;
mod sock;
mod work;

use aya_ebpf::{
    macros::{map, tracepoint},
    maps::{HashMap, PerCpuArray, RingBuf},
    programs::TracePointContext,
    Global,
};
use kotel_common::{
    globals, maps, programs, str_eq,
    tcp::{
        state, ListenerKey, ListenerOwner, SockOffsets, SockOwner, TcpEventKind, TcpStat,
        IPPROTO_TCP,
    },
    tcp_quality::{AckFields, CgroupFields, CloseFields, PortFields},
};

use owner::{
    accepted, closed, connected, failed_inbound, forget_listener, remember_connect,
    remember_listener,
};
use record::{field, OFF_NEWSTATE, OFF_OLDSTATE, OFF_PROTOCOL};
use work::Work;

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
/// (`max_tracked_sockets`). Preallocated: kernels before 6.1 refuse (PREEMPT_RT) or warn
/// about (WARN_ONCE, a tainted kernel) tracepoint programs using run-time allocated hash
/// maps.
#[map]
static KOTEL_TCP_SOCKS: HashMap<u64, SockOwner> = HashMap::with_max_entries(65_536, 0);
/// (netns, port, family) -> owner and count of the sockets listening there.
#[map]
static KOTEL_TCP_LISTENERS: HashMap<ListenerKey, ListenerOwner> =
    HashMap::with_max_entries(8_192, 0);
/// The working state of one `kotel_tcp_state` run (see [`work`]).
#[map]
static KOTEL_TCP_SCRATCH: PerCpuArray<Work> = PerCpuArray::with_max_entries(1, 0);
/// Per-CPU `u64` counters indexed by [`TcpStat`].
#[map]
static KOTEL_TCP_STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(TcpStat::COUNT, 0);

/// Offsets to read a socket's netns inode; `valid == 0` means netns is reported as 0.
#[unsafe(no_mangle)]
static KOTEL_TCP_SOCK_OFFSETS: Global<SockOffsets> = Global::new(SockOffsets {
    valid: 0,
    sock_common_net: 0,
    net_ns_inum: 0,
    _pad: 0,
});
/// Wakeup threshold in bytes of unread data; 0 = wake on every submit.
#[unsafe(no_mangle)]
static KOTEL_TCP_WAKEUP_BYTES: Global<u64> = Global::new(0);
/// `tcp_sock` fields read at close (and `srtt_us` by the RTT program); see
/// [`CloseFields`].
#[unsafe(no_mangle)]
static KOTEL_TCP_CLOSE_FIELDS: Global<CloseFields> = Global::new(CloseFields {
    valid: 0,
    bytes_acked: 0,
    bytes_received: 0,
    srtt_us: 0,
    rtt_min: 0,
    total_retrans: 0,
});
/// A socket's own cgroup; see [`CgroupFields`].
#[unsafe(no_mangle)]
static KOTEL_TCP_CGROUP_FIELDS: Global<CgroupFields> = Global::new(CgroupFields {
    valid: 0,
    sk_cgroup: 0,
    cgroup_kn: 0,
    kn_id: 0,
});
/// A socket's ports; see [`PortFields`].
#[unsafe(no_mangle)]
static KOTEL_TCP_PORT_FIELDS: Global<PortFields> = Global::new(PortFields {
    valid: 0,
    skc_num: 0,
    skc_dport: 0,
    _pad: 0,
});
/// What a segment acknowledges (the RTT program); see [`AckFields`].
#[unsafe(no_mangle)]
static KOTEL_TCP_ACK_FIELDS: Global<AckFields> = Global::new(AckFields {
    valid: 0,
    snd_una: 0,
    skb_ack_seq: 0,
    snd_nxt: 0,
});
/// Offset of `err` in the `tcp:tcp_retransmit_skb` record; 0: the record has none.
#[unsafe(no_mangle)]
static KOTEL_TCP_RETRANSMIT_ERR: Global<u32> = Global::new(0);

same_name!(KOTEL_TCP_EVENTS, maps::TCP_EVENTS);
same_name!(KOTEL_TCP_SOCKS, maps::TCP_SOCKS);
same_name!(KOTEL_TCP_LISTENERS, maps::TCP_LISTENERS);
same_name!(KOTEL_TCP_STATS, maps::TCP_STATS);
same_name!(KOTEL_TCP_SCRATCH, maps::TCP_SCRATCH);
same_name!(KOTEL_TCP_SOCK_OFFSETS, globals::TCP_SOCK_OFFSETS);
same_name!(KOTEL_TCP_WAKEUP_BYTES, globals::TCP_WAKEUP_BYTES);
same_name!(KOTEL_TCP_CLOSE_FIELDS, globals::TCP_CLOSE_FIELDS);
same_name!(KOTEL_TCP_CGROUP_FIELDS, globals::TCP_CGROUP_FIELDS);
same_name!(KOTEL_TCP_PORT_FIELDS, globals::TCP_PORT_FIELDS);
same_name!(KOTEL_TCP_ACK_FIELDS, globals::TCP_ACK_FIELDS);
same_name!(KOTEL_TCP_RETRANSMIT_ERR, globals::TCP_RETRANSMIT_ERR);
same_name!(kotel_tcp_state, programs::TCP_STATE);
same_name!(kotel_tcp_rtt, programs::TCP_RTT);
same_name!(kotel_tcp_retransmit, programs::TCP_RETRANSMIT);
same_name!(kotel_tcp_send_reset, programs::TCP_SEND_RESET);
same_name!(kotel_tcp_receive_reset, programs::TCP_RECEIVE_RESET);
same_name!(KOTEL_TCP_HIST, maps::TCP_HIST);
same_name!(KOTEL_TCP_COUNTERS, maps::TCP_COUNTERS);
same_name!(KOTEL_TCP_CONTROL, maps::TCP_CONTROL);
same_name!(KOTEL_TCP_HIST_ROWS, globals::TCP_HIST_ROWS);

#[tracepoint]
pub fn kotel_tcp_state(ctx: TracePointContext) -> u32 {
    match try_state(&ctx) {
        Ok(r) | Err(r) => r,
    }
}

/// Increments one per-CPU stats counter.
#[inline(always)]
fn count(stat: TcpStat) {
    if let Some(p) = KOTEL_TCP_STATS.get_ptr_mut(stat as u32) {
        // SAFETY: per-CPU slot of this CPU; a racing nested program may lose one increment.
        unsafe { *p += 1 };
    }
}

#[inline(always)]
fn try_state(ctx: &TracePointContext) -> Result<u32, u32> {
    if field::<u16>(ctx, OFF_PROTOCOL) != IPPROTO_TCP {
        return Ok(0);
    }
    let old = field::<i32>(ctx, OFF_OLDSTATE) as u32;
    let new = field::<i32>(ctx, OFF_NEWSTATE) as u32;
    let relevant = match (old, new) {
        (state::CLOSE, state::SYN_SENT) | (_, state::LISTEN) => true,
        (state::SYN_SENT | state::SYN_RECV, state::ESTABLISHED) => true,
        (o, state::CLOSE) => {
            o == state::LISTEN
                || o == state::SYN_SENT
                || o == state::SYN_RECV
                || state::is_established_family(o)
        }
        _ => false,
    };
    if !relevant {
        return Ok(0);
    }
    let Some(w) = KOTEL_TCP_SCRATCH.get_ptr_mut(0) else {
        return Ok(0);
    };
    // SAFETY: this CPU's slot, which no other program touches during this run (see `work`).
    let w = unsafe { &mut *w };
    w.t.fill(ctx, old, new);
    match (old, new) {
        (state::CLOSE, state::SYN_SENT) => remember_connect(w),
        (_, state::LISTEN) => remember_listener(w),
        (state::LISTEN, state::CLOSE) => forget_listener(w),
        (state::SYN_SENT, state::ESTABLISHED) => connected(w),
        (state::SYN_RECV, state::ESTABLISHED) => accepted(w),
        (state::SYN_SENT, state::CLOSE) => closed(w, TcpEventKind::ConnectFailed),
        (state::SYN_RECV, state::CLOSE) => failed_inbound(w),
        _ => closed(w, TcpEventKind::Close),
    }
}
