//! In-kernel aggregation (see `kotel_common::tcp_quality`): per-cgroup histogram rows in a
//! per-CPU array and counters in a per-CPU hash, written under the phase user space set,
//! and the owner attribution and cached filter verdict the per-packet programs share.
//!
//! Contract: a sample is attributed to the owner remembered in `KOTEL_TCP_SOCKS` (the same
//! cgroup as the connection's lifecycle records); a socket without one is attributed to the
//! caller's fallback (the socket's own cgroup), counted as `QualityOwnerUnknown`. Samples the
//! filters reject count as `Filtered`; a sample that finds no row (all [`ROW_PROBES`]
//! probed rows taken) or counter entry counts `AggMapFull`. Nothing aborts.

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    macros::map,
    maps::{Array, PerCpuArray, PerCpuHashMap},
    Global,
};
use kotel_common::tcp::{SockOwner, TcpStat, COMM_LEN};
use kotel_common::tcp_quality::{
    row_home, slot_of_ns, CounterKey, CounterValue, HistRow, CONTROL_FILTER_EPOCH, CONTROL_PHASE,
    ROW_PROBES, ZERO_SLOT,
};
use kotel_probes::filter::{allows_ports, allows_process};

use super::sock::{sock_cgroup, sock_ports};
use super::{count, KOTEL_TCP_SOCKS};

/// Histogram rows: phase 0 rows, then phase 1 rows. Size set by the agent (2 x rows).
#[map]
pub(super) static KOTEL_TCP_HIST: PerCpuArray<HistRow> = PerCpuArray::with_max_entries(1_024, 0);
/// Retransmit and reset counters of every cgroup, both phases. Size set by the agent.
#[map]
pub(super) static KOTEL_TCP_COUNTERS: PerCpuHashMap<CounterKey, CounterValue> =
    PerCpuHashMap::with_max_entries(4_096, 0);
/// The phase (0 or 1) new entries are written in, and the filter epoch; set by user space.
#[map]
pub(super) static KOTEL_TCP_CONTROL: Array<u32> = Array::with_max_entries(2, 0);
/// Rows per phase (a power of two), set by the agent with the map size.
#[unsafe(no_mangle)]
pub(super) static KOTEL_TCP_HIST_ROWS: Global<u32> = Global::new(512);

/// Bit 31 of [`SockOwner::verdict`]: the filters allow the socket.
const ALLOWED: u32 = 1 << 31;

#[inline(always)]
fn phase() -> u32 {
    KOTEL_TCP_CONTROL.get(CONTROL_PHASE).map_or(0, |p| *p & 1)
}

/// The filter verdict of an owned socket, cached in its owner entry until the filter
/// generation changes.
#[inline(always)]
fn verdict(owner: &mut SockOwner, ports: impl FnOnce() -> (u16, u16)) -> bool {
    let tag = filter_tag();
    if owner.verdict & 0xffff == tag {
        return owner.verdict & ALLOWED != 0;
    }
    let ok = allows_process(owner.cgroup_id, &owner.comm) && {
        let (sport, dport) = ports();
        allows_ports(sport, dport)
    };
    owner.verdict = tag | if ok { ALLOWED } else { 0 };
    ok
}

/// Who a sample of socket `sk` belongs to: the remembered owner's cgroup (and the owner
/// entry, to count per connection), or the socket's own cgroup. `None` when the filters
/// drop it (counted). The socket's ports are only read when a verdict is computed.
#[inline(always)]
pub(super) fn attribute(sk: u64) -> Option<(u64, Option<*mut SockOwner>)> {
    let ports = || sock_ports(sk);
    if let Some(p) = KOTEL_TCP_SOCKS.get_ptr_mut(&sk) {
        // SAFETY: value of a live entry; its socket's events are serialised by the socket
        // lock, and a racing update at worst loses one cached verdict or count.
        let owner = unsafe { &mut *p };
        if verdict(owner, ports) {
            return Some((owner.cgroup_id, Some(p)));
        }
    } else {
        count(TcpStat::QualityOwnerUnknown);
        let cgroup = sock_cgroup(sk);
        if allows_process(cgroup, &[0; COMM_LEN]) && {
            let (sport, dport) = ports();
            allows_ports(sport, dport)
        } {
            return Some((cgroup, None));
        }
    }
    count(TcpStat::Filtered);
    None
}

/// The filter epoch + 1, in 16 bits (never 0): cached verdicts are tagged with it. (The
/// filter's own generation only alternates 0/1, so it cannot tell filters apart.)
#[inline(always)]
fn filter_tag() -> u32 {
    let epoch = KOTEL_TCP_CONTROL
        .get(CONTROL_FILTER_EPOCH)
        .map_or(0, |e| *e);
    (epoch & 0x7fff) + 1
}

/// Adds a sample of `value_ns` to `cgroup_id`'s histogram of `metric` (this CPU's row of
/// the current phase, claimed on first use).
#[inline(always)]
pub(super) fn record(cgroup_id: u64, metric: u32, value_ns: u64) {
    let rows = KOTEL_TCP_HIST_ROWS.load();
    let base = phase() * rows;
    let home = row_home(cgroup_id, metric, rows);
    let slot = slot_of_ns(value_ns);
    for probe in 0..ROW_PROBES {
        let index = base + (home.wrapping_add(probe) & rows.wrapping_sub(1));
        let Some(row) = KOTEL_TCP_HIST.get_ptr_mut(index) else {
            break;
        };
        // SAFETY: this CPU's copy of the row; a nested program on this CPU may race one
        // increment at worst.
        let row = unsafe { &mut *row };
        if row.metric == 0 {
            row.cgroup_id = cgroup_id;
            row.metric = metric;
        } else if row.metric != metric || row.cgroup_id != cgroup_id {
            continue;
        }
        row.sum_ns = row.sum_ns.wrapping_add(value_ns);
        if slot == ZERO_SLOT {
            row.zero_count = row.zero_count.wrapping_add(1);
        } else if let Some(c) = row.counts.get_mut(usize::from(slot)) {
            *c = c.wrapping_add(1);
        }
        return;
    }
    count(TcpStat::AggMapFull);
}

/// Which per-cgroup counter to increment.
#[derive(Clone, Copy)]
pub(super) enum Counter {
    Retransmit,
    ResetSent,
    ResetReceived,
}

/// Increments one of `cgroup_id`'s counters.
#[inline(always)]
pub(super) fn add(cgroup_id: u64, which: Counter) {
    let key = CounterKey {
        cgroup_id,
        phase: phase(),
        _pad: 0,
    };
    for _ in 0..2 {
        if let Some(v) = KOTEL_TCP_COUNTERS.get_ptr_mut(&key) {
            // SAFETY: this CPU's slot of a live entry.
            let v = unsafe { &mut *v };
            match which {
                Counter::Retransmit => v.retransmits += 1,
                Counter::ResetSent => v.resets_sent += 1,
                Counter::ResetReceived => v.resets_received += 1,
            }
            return;
        }
        // Then increment it; an error means another CPU created it meanwhile (the retry
        // finds it) or the map is full.
        let _ = KOTEL_TCP_COUNTERS.insert(&key, &CounterValue::default(), BPF_NOEXIST as u64);
    }
    count(TcpStat::AggMapFull);
}
