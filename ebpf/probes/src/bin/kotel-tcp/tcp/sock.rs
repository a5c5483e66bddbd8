//! Fields of a live socket the tracepoint records do not carry, read at offsets the agent
//! resolved from the running kernel's BTF (`KOTEL_TCP_CLOSE_FIELDS`,
//! `KOTEL_TCP_CGROUP_FIELDS`, `KOTEL_TCP_PORT_FIELDS`): the connection's
//! byte counts and RTTs at close, and the socket's own cgroup for sockets without a
//! remembered owner. Unknown offsets or failed reads give zeros, never an abort.

use aya_ebpf::helpers::bpf_probe_read_kernel;
use kotel_common::tcp::{SockOwner, TcpStat};
use kotel_probes::mem::zero_words;

use super::{count, KOTEL_TCP_CGROUP_FIELDS, KOTEL_TCP_CLOSE_FIELDS, KOTEL_TCP_PORT_FIELDS};

/// What a close (or failed connect) record carries about the connection.
#[derive(Clone, Copy)]
pub(super) struct ConnStats {
    pub(super) bytes_sent: u64,
    pub(super) bytes_received: u64,
    pub(super) srtt_us: u32,
    pub(super) min_rtt_us: u32,
    pub(super) retransmits: u32,
    pub(super) resets_sent: u32,
    pub(super) resets_received: u32,
}

/// The `T` at kernel address `addr`; `T::default()` (counted as `ReadError`) on a fault.
#[inline(always)]
pub(super) fn read<T: Copy + Default>(addr: u64) -> T {
    // SAFETY: bpf_probe_read_kernel checks the address; a fault returns an error.
    unsafe { bpf_probe_read_kernel(addr as *const T) }.unwrap_or_else(|_| {
        count(TcpStat::ReadError);
        T::default()
    })
}

/// Sets `s` to the byte counts, RTTs and retransmits of the `tcp_sock` at `sk`, plus the
/// owner's reset counters (and its retransmit count when the offsets are unknown).
#[inline(always)]
pub(super) fn fill_conn_stats(s: &mut ConnStats, sk: u64, owner: &SockOwner) {
    let f = KOTEL_TCP_CLOSE_FIELDS.load();
    // SAFETY: ConnStats is plain data; all zeros is no statistics.
    unsafe { zero_words(s) };
    s.retransmits = owner.retransmits;
    s.resets_sent = owner.resets_sent;
    s.resets_received = owner.resets_received;
    if f.valid != 0 && sk != 0 {
        s.bytes_sent = read::<u64>(sk + f.bytes_acked as u64);
        s.bytes_received = read::<u64>(sk + f.bytes_received as u64);
        s.srtt_us = read::<u32>(sk + f.srtt_us as u64) >> 3;
        s.min_rtt_us = read::<u32>(sk + f.rtt_min as u64);
        // The kernel's own count (as TCP_INFO): exact, where the retransmit tracepoint
        // can miss one (its per-cgroup counters still come from the tracepoint).
        s.retransmits = read::<u32>(sk + f.total_retrans as u64);
        // rtt_min starts at ~0U (no sample yet).
        if s.min_rtt_us == u32::MAX {
            s.min_rtt_us = 0;
        }
    }
}

/// cgroup v2 id of the full socket at `sk` (`sk->sk_cgrp_data.cgroup->kn->id`: the cgroup
/// of the process that created it); 0 when unknown.
#[inline(always)]
pub(super) fn sock_cgroup(sk: u64) -> u64 {
    let f = KOTEL_TCP_CGROUP_FIELDS.load();
    if f.valid == 0 || sk == 0 {
        return 0;
    }
    let cgroup = read::<u64>(sk + f.sk_cgroup as u64);
    if cgroup == 0 {
        return 0;
    }
    let kn = read::<u64>(cgroup + f.cgroup_kn as u64);
    if kn == 0 {
        return 0;
    }
    read::<u64>(kn + f.kn_id as u64)
}

/// (local, remote) port of the socket at `sk`, host byte order; zeros when unknown.
#[inline(always)]
pub(super) fn sock_ports(sk: u64) -> (u16, u16) {
    let f = KOTEL_TCP_PORT_FIELDS.load();
    if f.valid == 0 || sk == 0 {
        return (0, 0);
    }
    (
        read::<u16>(sk + f.skc_num as u64),
        u16::from_be(read::<u16>(sk + f.skc_dport as u64)),
    )
}
