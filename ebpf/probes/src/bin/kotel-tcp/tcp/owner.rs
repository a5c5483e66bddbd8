//! Who owns a socket: remembered at connect()/listen() (process context), looked up and
//! deleted at later transitions; each handler emits at most one record.

use aya_ebpf::{
    bindings::BPF_ANY,
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns,
    },
};
use kotel_common::tcp::{
    state, ListenerKey, SockOwner, TcpEventKind, TcpStat, AF_INET, AF_INET6, COMM_LEN,
    DIRECTION_INBOUND, DIRECTION_OUTBOUND, DIRECTION_UNKNOWN,
};
use kotel_common::tcp_quality::metric;

use super::agg::record;
use super::emit::{emit, latency, Outcome};
use super::record::{netns, Transition};
use super::sock::{conn_stats, ConnStats};
use super::{count, KOTEL_TCP_LISTENERS, KOTEL_TCP_SOCKS};

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
        retransmits: 0,
        resets_sent: 0,
        resets_received: 0,
        verdict: 0,
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
        retransmits: 0,
        resets_sent: 0,
        resets_received: 0,
        verdict: 0,
    }
}

#[inline(always)]
fn outcome(kind: TcpEventKind, duration_ns: u64, netns: u32, stats: ConnStats) -> Outcome {
    Outcome {
        kind,
        duration_ns,
        netns,
        stats,
    }
}

pub(super) fn remember_connect(t: &Transition) -> Result<u32, u32> {
    let owner = current_owner(t.sk, DIRECTION_OUTBOUND, unsafe { bpf_ktime_get_ns() });
    if KOTEL_TCP_SOCKS.insert(t.sk, owner, BPF_ANY as u64).is_err() {
        count(TcpStat::OwnerMapFull);
    }
    Ok(0)
}

#[inline(always)]
fn listener_key(t: &Transition, netns: u32) -> ListenerKey {
    ListenerKey {
        netns,
        port: t.sport,
        family: t.family,
    }
}

/// listen() on a bound socket: remember its owner. A socket listening without bind() gets
/// its port only after this transition (sport 0 here): it is skipped, and its accepts carry
/// an unknown owner.
pub(super) fn remember_listener(t: &Transition) -> Result<u32, u32> {
    if t.sport == 0 {
        return Ok(0);
    }
    let owner = current_owner(t.sk, DIRECTION_INBOUND, 0);
    if KOTEL_TCP_LISTENERS
        .insert(listener_key(t, netns(t.sk)), owner, BPF_ANY as u64)
        .is_err()
    {
        count(TcpStat::OwnerMapFull);
    }
    Ok(0)
}

pub(super) fn forget_listener(t: &Transition) -> Result<u32, u32> {
    let key = listener_key(t, netns(t.sk));
    // Only the socket that recorded the entry removes it (SO_REUSEPORT siblings share a key).
    if let Some(o) = unsafe { KOTEL_TCP_LISTENERS.get(key) } {
        if o.sock_id == t.sk {
            let _ = KOTEL_TCP_LISTENERS.remove(key);
        }
    }
    Ok(0)
}

/// Owner of the listener an accepted socket came from (its netns and local port); tries
/// the other family too (a dual-stack listener). Counts `OwnerUnknown` on a miss.
#[inline(always)]
fn listener_owner(t: &Transition, netns: u32) -> SockOwner {
    let key = listener_key(t, netns);
    if let Some(o) = unsafe { KOTEL_TCP_LISTENERS.get(key) } {
        return *o;
    }
    let family = if key.family == AF_INET {
        AF_INET6
    } else {
        AF_INET
    };
    match unsafe { KOTEL_TCP_LISTENERS.get(ListenerKey { family, ..key }) } {
        Some(o) => *o,
        None => {
            count(TcpStat::OwnerUnknown);
            unknown_owner(t.sk, DIRECTION_INBOUND)
        }
    }
}

pub(super) fn connected(mut t: Transition) -> Result<u32, u32> {
    t.now = unsafe { bpf_ktime_get_ns() };
    let owner = match KOTEL_TCP_SOCKS.get_ptr_mut(t.sk) {
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
    let ns = netns(t.sk);
    // The connect latency histogram follows the record's filter verdict.
    if emit(
        &t,
        &owner,
        &outcome(TcpEventKind::Connect, 0, ns, ConnStats::ZERO),
    ) {
        let l = latency(&owner);
        if l != 0 {
            record(owner.cgroup_id, metric::CONNECT_LATENCY, l);
        }
    }
    Ok(0)
}

pub(super) fn accepted(mut t: Transition) -> Result<u32, u32> {
    t.now = unsafe { bpf_ktime_get_ns() };
    let ns = netns(t.sk);
    let mut owner = listener_owner(&t, ns);
    owner.sock_id = t.sk;
    owner.start_ns = 0;
    owner.established_ns = t.now;
    owner.retransmits = 0;
    owner.resets_sent = 0;
    owner.resets_received = 0;
    owner.verdict = 0;
    if KOTEL_TCP_SOCKS.insert(t.sk, owner, BPF_ANY as u64).is_err() {
        count(TcpStat::OwnerMapFull);
    }
    emit(
        &t,
        &owner,
        &outcome(TcpEventKind::Accept, 0, ns, ConnStats::ZERO),
    );
    Ok(0)
}

/// Close of an established socket, or a failed outbound connect: the owner entry is used
/// and deleted.
pub(super) fn closed(mut t: Transition, kind: TcpEventKind) -> Result<u32, u32> {
    t.now = unsafe { bpf_ktime_get_ns() };
    let owner = match unsafe { KOTEL_TCP_SOCKS.get(t.sk) } {
        Some(o) => {
            let o = *o;
            let _ = KOTEL_TCP_SOCKS.remove(t.sk);
            o
        }
        None => {
            count(TcpStat::OwnerUnknown);
            let dir = if t.old == state::SYN_SENT {
                DIRECTION_OUTBOUND
            } else {
                DIRECTION_UNKNOWN
            };
            unknown_owner(t.sk, dir)
        }
    };
    let duration = match kind {
        TcpEventKind::Close if owner.established_ns != 0 => {
            t.now.saturating_sub(owner.established_ns)
        }
        _ => 0,
    };
    let stats = conn_stats(t.sk, &owner);
    emit(&t, &owner, &outcome(kind, duration, netns(t.sk), stats));
    Ok(0)
}

pub(super) fn failed_inbound(mut t: Transition) -> Result<u32, u32> {
    t.now = unsafe { bpf_ktime_get_ns() };
    let _ = KOTEL_TCP_SOCKS.remove(t.sk);
    let ns = netns(t.sk);
    let mut owner = listener_owner(&t, ns);
    // The listener's entry carries no counters of this connection.
    owner.retransmits = 0;
    owner.resets_sent = 0;
    owner.resets_received = 0;
    let stats = conn_stats(t.sk, &owner);
    emit(
        &t,
        &owner,
        &outcome(TcpEventKind::ConnectFailed, 0, ns, stats),
    );
    Ok(0)
}
