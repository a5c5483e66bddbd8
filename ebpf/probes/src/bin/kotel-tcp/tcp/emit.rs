//! Records into the ring buffer under the configured wakeup policy.

use kotel_common::tcp::{SockOwner, TcpEvent, TcpEventKind, TcpStat, TCP_EVENT_SIZE};
use kotel_probes::filter::{allows_ports, allows_process};
use kotel_probes::mem::copy_16;
use kotel_probes::wakeup::threshold_flags;

use super::work::Work;
use super::{count, KOTEL_TCP_EVENTS, KOTEL_TCP_WAKEUP_BYTES};

// The 16-byte fields copied as words are 8-byte aligned (see `kotel_probes::mem::copy_16`).
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(TcpEvent, local_addr) % 8 == 0);
    assert!(offset_of!(TcpEvent, remote_addr) % 8 == 0);
    assert!(offset_of!(TcpEvent, comm) % 8 == 0);
    assert!(offset_of!(SockOwner, comm) % 8 == 0);
};

/// Ring buffer bytes one record takes (8-byte header + payload).
const RECORD_BYTES: u64 = TCP_EVENT_SIZE as u64 + 8;

/// Connect latency of an outbound socket whose connect() the program saw, else 0.
#[inline(always)]
pub(super) fn latency(o: &SockOwner) -> u64 {
    if o.start_ns != 0 && o.established_ns > o.start_ns {
        o.established_ns - o.start_ns
    } else {
        0
    }
}

/// Ring-buffer flags for the next record under the configured wakeup policy.
#[inline(always)]
fn wakeup_flags() -> u64 {
    let wake = KOTEL_TCP_WAKEUP_BYTES.load();
    threshold_flags(&KOTEL_TCP_EVENTS, wake, RECORD_BYTES, || {
        count(TcpStat::Wakeup)
    })
}

/// Writes one record for the run `w` straight into the ring buffer (no 160-byte copy on
/// the BPF stack): the transition, the owner and the statistics of `w`, plus `kind`,
/// `duration_ns` (ESTABLISHED -> CLOSE for close records, else 0) and `netns`. Returns
/// false when the filters dropped it (counted as `Filtered`).
#[inline(always)]
pub(super) fn emit(w: &Work, kind: TcpEventKind, duration_ns: u64, netns: u32) -> bool {
    let (t, owner, stats) = (&w.t, &w.owner, &w.stats);
    if !allows_process(owner.cgroup_id, &owner.comm) || !allows_ports(t.sport, t.dport) {
        count(TcpStat::Filtered);
        return false;
    }
    let flags = wakeup_flags();
    let Some(mut entry) = KOTEL_TCP_EVENTS.reserve::<TcpEvent>(0) else {
        count(TcpStat::RingbufFull);
        return true;
    };
    // SAFETY: reserve returned TCP_EVENT_SIZE writable bytes, aligned for TcpEvent; every
    // field is written below before submit.
    unsafe {
        let ev = entry.as_mut_ptr();
        (*ev).timestamp_ns = t.now;
        (*ev).connect_latency_ns = latency(owner);
        (*ev).duration_ns = duration_ns;
        (*ev).cgroup_id = owner.cgroup_id;
        (*ev).sock_id = t.sk;
        (*ev).kind = kind as u32;
        (*ev).direction = owner.direction;
        (*ev).pid = owner.pid;
        (*ev).netns = netns;
        (*ev).old_state = t.old;
        (*ev).new_state = t.new;
        (*ev).family = t.family;
        (*ev).local_port = t.sport;
        (*ev).remote_port = t.dport;
        (*ev)._pad = 0;
        // 8-byte aligned: TcpEvent's addresses and comm (offsets 72, 88, 104),
        // Transition's addresses (32, 48) and SockOwner's comm (40), in map values.
        copy_16(&mut (*ev).local_addr, t.saddr_bytes());
        copy_16(&mut (*ev).remote_addr, t.daddr_bytes());
        copy_16(&mut (*ev).comm, &owner.comm);
        (*ev).bytes_sent = stats.bytes_sent;
        (*ev).bytes_received = stats.bytes_received;
        (*ev).srtt_us = stats.srtt_us;
        (*ev).min_rtt_us = stats.min_rtt_us;
        (*ev).retransmits = stats.retransmits;
        (*ev).resets_sent = stats.resets_sent;
        (*ev).resets_received = stats.resets_received;
        (*ev)._pad2 = 0;
    }
    entry.submit(flags);
    count(TcpStat::Emitted);
    true
}
