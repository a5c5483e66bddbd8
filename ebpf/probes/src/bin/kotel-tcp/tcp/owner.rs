//! Who owns a socket: remembered at connect()/listen() (process context), looked up and
//! deleted at later transitions; each handler emits at most one record. Every handler
//! works on the run's [`Work`] (a per-CPU map value), never on stack copies of an owner.

use aya_ebpf::{
    bindings::{BPF_ANY, BPF_NOEXIST},
    helpers::{bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_ktime_get_ns, generated},
};
use kotel_common::tcp::{
    state, ListenerKey, ListenerOwner, SockOwner, TcpEventKind, TcpStat, AF_INET, AF_INET6,
    COMM_LEN, DIRECTION_INBOUND, DIRECTION_OUTBOUND, DIRECTION_UNKNOWN,
};
use kotel_common::tcp_quality::metric;
use kotel_probes::mem::{atomic_add, copy_words, zero_words};

use super::agg::record;
use super::emit::{emit, latency};
use super::record::{netns, Transition};
use super::sock::fill_conn_stats;
use super::work::Work;
use super::{count, KOTEL_TCP_LISTENERS, KOTEL_TCP_SOCKS};

/// Makes `o` the current task as owner of `sk`: only meaningful in process context
/// (connect, listen).
#[inline(always)]
fn set_current_owner(o: &mut SockOwner, sk: u64, direction: u32, start_ns: u64) {
    set_unknown_owner(o, sk, direction);
    o.start_ns = start_ns;
    // SAFETY: no preconditions.
    o.cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    o.pid = (bpf_get_current_pid_tgid() >> 32) as u32;
    // SAFETY: `comm` has COMM_LEN writable bytes; the helper NUL-pads and never fails
    // for the current task (on failure the bytes are zeroed).
    unsafe { generated::bpf_get_current_comm(o.comm.as_mut_ptr().cast(), COMM_LEN as u32) };
}

/// Makes `o` an owner nobody is known for: pid 0, cgroup 0, no counters.
#[inline(always)]
fn set_unknown_owner(o: &mut SockOwner, sk: u64, direction: u32) {
    // SAFETY: SockOwner is plain data; all zeros is a valid (unknown) owner.
    unsafe { zero_words(o) };
    o.sock_id = sk;
    o.direction = direction;
}

/// Zeroes the per-connection counters an owner carries (volatile stores: adjacent zero
/// stores would otherwise become a byte-wise `memset`, see `kotel_probes::mem`).
#[inline(always)]
fn clear_counters(o: &mut SockOwner) {
    // SAFETY: pointers to fields of `o`.
    unsafe {
        core::ptr::write_volatile(&mut o.retransmits, 0);
        core::ptr::write_volatile(&mut o.resets_sent, 0);
        core::ptr::write_volatile(&mut o.resets_received, 0);
    }
}

#[inline(always)]
fn now() -> u64 {
    // SAFETY: no preconditions.
    unsafe { bpf_ktime_get_ns() }
}

#[inline(always)]
pub(super) fn remember_connect(w: &mut Work) -> Result<u32, u32> {
    set_current_owner(&mut w.owner, w.t.sk, DIRECTION_OUTBOUND, now());
    if KOTEL_TCP_SOCKS
        .insert(&w.t.sk, &w.owner, BPF_ANY as u64)
        .is_err()
    {
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

/// Adds `delta` (`u64::MAX`: -1) to a listener entry's count, atomically: siblings can
/// listen or close on other CPUs at the same time.
#[inline(always)]
fn add_live(entry: *mut ListenerOwner, delta: u64) {
    // SAFETY: `entry` points at a value of KOTEL_TCP_LISTENERS, valid for this run; the
    // field is a naturally aligned u64.
    unsafe { atomic_add(core::ptr::addr_of_mut!((*entry).live), delta) };
}

/// listen() on a bound socket: counts it on its key (netns, port, family), creating the
/// entry with this socket's owner when it is the first, and marks the socket counted (its
/// owner in `KOTEL_TCP_SOCKS`) so that only its own close uncounts it. A socket listening
/// without bind() gets its port only after this transition (sport 0 here): it is skipped,
/// and its accepts carry an unknown owner.
#[inline(always)]
pub(super) fn remember_listener(w: &mut Work) -> Result<u32, u32> {
    if w.t.sport == 0 {
        return Ok(0);
    }
    set_current_owner(&mut w.owner, w.t.sk, DIRECTION_INBOUND, 0);
    if KOTEL_TCP_SOCKS
        .insert(&w.t.sk, &w.owner, BPF_ANY as u64)
        .is_err()
    {
        count(TcpStat::OwnerMapFull);
        return Ok(0);
    }
    let key = listener_key(&w.t, netns(w.t.sk));
    if let Some(entry) = KOTEL_TCP_LISTENERS.get_ptr_mut(&key) {
        add_live(entry, 1);
        return Ok(0);
    }
    // SAFETY: SockOwner is plain data with no padding.
    unsafe { copy_words(&mut w.listener.owner, &w.owner) };
    w.listener.live = 1;
    if KOTEL_TCP_LISTENERS
        .insert(&key, &w.listener, BPF_NOEXIST as u64)
        .is_err()
    {
        // Another CPU created it meanwhile, or the map is full.
        match KOTEL_TCP_LISTENERS.get_ptr_mut(&key) {
            Some(entry) => add_live(entry, 1),
            None => {
                count(TcpStat::OwnerMapFull);
                let _ = KOTEL_TCP_SOCKS.remove(&w.t.sk);
            }
        }
    }
    Ok(0)
}

/// A listening socket closes: uncounts it if its listen() was counted; the entry goes with
/// the last listener on the key.
#[inline(always)]
pub(super) fn forget_listener(w: &mut Work) -> Result<u32, u32> {
    if KOTEL_TCP_SOCKS.remove(&w.t.sk).is_err() {
        return Ok(0);
    }
    let key = listener_key(&w.t, netns(w.t.sk));
    if let Some(entry) = KOTEL_TCP_LISTENERS.get_ptr_mut(&key) {
        add_live(entry, u64::MAX);
        // SAFETY: as in add_live.
        if unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*entry).live)) } == 0 {
            let _ = KOTEL_TCP_LISTENERS.remove(&key);
        }
    }
    Ok(0)
}

/// Makes `w.owner` the owner of the listener an accepted socket came from (its netns and
/// local port); tries the other family too (a dual-stack listener). Counts
/// `OwnerUnknown` on a miss.
#[inline(always)]
fn set_listener_owner(w: &mut Work, netns: u32) {
    let key = listener_key(&w.t, netns);
    let other = ListenerKey {
        family: if key.family == AF_INET {
            AF_INET6
        } else {
            AF_INET
        },
        ..key
    };
    // SAFETY: lookups; the value is copied out at once.
    let found = unsafe {
        KOTEL_TCP_LISTENERS
            .get(&key)
            .or_else(|| KOTEL_TCP_LISTENERS.get(&other))
    };
    match found {
        // SAFETY: SockOwner is plain data with no padding (72 bytes of fields).
        Some(o) => unsafe { copy_words(&mut w.owner, &o.owner) },
        None => {
            count(TcpStat::OwnerUnknown);
            set_unknown_owner(&mut w.owner, w.t.sk, DIRECTION_INBOUND);
        }
    }
}

#[inline(always)]
pub(super) fn connected(w: &mut Work) -> Result<u32, u32> {
    w.t.now = now();
    match KOTEL_TCP_SOCKS.get_ptr_mut(&w.t.sk) {
        Some(p) => {
            // SAFETY: value of a live entry; only this socket's transitions touch it.
            let o = unsafe { &mut *p };
            o.established_ns = w.t.now;
            // SAFETY: SockOwner is plain data with no padding.
            unsafe { copy_words(&mut w.owner, o) };
        }
        None => {
            count(TcpStat::OwnerUnknown);
            set_unknown_owner(&mut w.owner, w.t.sk, DIRECTION_OUTBOUND);
            w.owner.established_ns = w.t.now;
            if KOTEL_TCP_SOCKS
                .insert(&w.t.sk, &w.owner, BPF_ANY as u64)
                .is_err()
            {
                count(TcpStat::OwnerMapFull);
            }
        }
    }
    // SAFETY: ConnStats is plain data; all zeros is no statistics.
    unsafe { zero_words(&mut w.stats) };
    // The connect latency histogram follows the record's filter verdict.
    if emit(w, TcpEventKind::Connect, 0, netns(w.t.sk)) {
        let l = latency(&w.owner);
        if l != 0 {
            record(w.owner.cgroup_id, metric::CONNECT_LATENCY, l);
        }
    }
    Ok(0)
}

#[inline(always)]
pub(super) fn accepted(w: &mut Work) -> Result<u32, u32> {
    w.t.now = now();
    let ns = netns(w.t.sk);
    set_listener_owner(w, ns);
    w.owner.sock_id = w.t.sk;
    w.owner.start_ns = 0;
    w.owner.established_ns = w.t.now;
    clear_counters(&mut w.owner);
    // SAFETY: a field of the run's owner.
    unsafe { core::ptr::write_volatile(&mut w.owner.verdict, 0) };
    if KOTEL_TCP_SOCKS
        .insert(&w.t.sk, &w.owner, BPF_ANY as u64)
        .is_err()
    {
        count(TcpStat::OwnerMapFull);
    }
    // SAFETY: ConnStats is plain data; all zeros is no statistics.
    unsafe { zero_words(&mut w.stats) };
    emit(w, TcpEventKind::Accept, 0, ns);
    Ok(0)
}

/// Close of an established socket, or a failed outbound connect: the owner entry is used
/// and deleted.
#[inline(always)]
pub(super) fn closed(w: &mut Work, kind: TcpEventKind) -> Result<u32, u32> {
    w.t.now = now();
    // SAFETY: a lookup; the value is copied out before the entry is deleted.
    match unsafe { KOTEL_TCP_SOCKS.get(&w.t.sk) } {
        Some(o) => {
            // SAFETY: SockOwner is plain data with no padding.
            unsafe { copy_words(&mut w.owner, o) };
            let _ = KOTEL_TCP_SOCKS.remove(&w.t.sk);
        }
        None => {
            count(TcpStat::OwnerUnknown);
            let dir = if w.t.old == state::SYN_SENT {
                DIRECTION_OUTBOUND
            } else {
                DIRECTION_UNKNOWN
            };
            set_unknown_owner(&mut w.owner, w.t.sk, dir);
        }
    }
    let duration = match kind {
        TcpEventKind::Close if w.owner.established_ns != 0 => {
            w.t.now.saturating_sub(w.owner.established_ns)
        }
        _ => 0,
    };
    fill_conn_stats(&mut w.stats, w.t.sk, &w.owner);
    emit(w, kind, duration, netns(w.t.sk));
    Ok(0)
}

#[inline(always)]
pub(super) fn failed_inbound(w: &mut Work) -> Result<u32, u32> {
    w.t.now = now();
    let _ = KOTEL_TCP_SOCKS.remove(&w.t.sk);
    let ns = netns(w.t.sk);
    set_listener_owner(w, ns);
    // The listener's entry carries no counters of this connection.
    clear_counters(&mut w.owner);
    fill_conn_stats(&mut w.stats, w.t.sk, &w.owner);
    emit(w, TcpEventKind::ConnectFailed, 0, ns);
    Ok(0)
}
