//! Retransmits and resets: `tcp:tcp_retransmit_skb`, `tcp:tcp_send_reset` and
//! `tcp:tcp_receive_reset` increment the owner entry (carried on the connection's close
//! record) and the owner cgroup's counters (read by user space each interval).
//!
//! Contract:
//! - A retransmit counts once per traced skb whose retransmission succeeded (`err == 0`
//!   where the kernel's record has `err`).
//! - Resets a socket sends after its CLOSE transition (close() with unread data, abort on
//!   data) count for its cgroup (read from the socket) but not on its close record, which
//!   was already emitted. Resets sent for no full socket (no listener, TIME_WAIT, request
//!   sockets) count under cgroup 0.
//! - Only the socket address and state fields of the records are used (offsets stable
//!   since 4.16); ports for the port filter are read from the socket.

use aya_ebpf::{
    helpers::bpf_probe_read_kernel, macros::tracepoint, programs::TracePointContext, EbpfContext,
};
use kotel_common::tcp::{state, COMM_LEN};
use kotel_probes::filter::{allows_ports, allows_process};
use kotel_probes::read::field;

use super::agg::{add, attribute, Counter};
use super::KOTEL_TCP_RETRANSMIT_ERR;

/// `skaddr` in the `tcp_retransmit_skb` and `tcp_send_reset` records.
const OFF_SKADDR: usize = 16;
/// `state` in the `tcp_send_reset` record.
const OFF_RESET_STATE: usize = 24;
/// `skaddr` in the `tcp_receive_reset` record.
const OFF_RECV_SKADDR: usize = 8;

#[tracepoint]
pub fn kotel_tcp_retransmit(ctx: TracePointContext) -> u32 {
    let sk: u64 = field(&ctx, OFF_SKADDR);
    let err_off = KOTEL_TCP_RETRANSMIT_ERR.load();
    if err_off != 0 {
        let at = ctx.as_ptr() as u64 + u64::from(err_off);
        // SAFETY: a field inside the tracepoint record; a fault returns an error.
        if unsafe { bpf_probe_read_kernel(at as *const i32) }.unwrap_or(0) != 0 {
            return 0;
        }
    }
    count_on(sk, Counter::Retransmit);
    0
}

#[tracepoint]
pub fn kotel_tcp_send_reset(ctx: TracePointContext) -> u32 {
    let sk: u64 = field(&ctx, OFF_SKADDR);
    let st = field::<i32>(&ctx, OFF_RESET_STATE) as u32;
    // Only full sockets have an owner entry or a cgroup to read.
    if sk == 0 || st == state::TIME_WAIT || st == state::NEW_SYN_RECV {
        if allows_process(0, &[0; COMM_LEN]) && allows_ports(0, 0) {
            add(0, Counter::ResetSent);
        } else {
            super::count(kotel_common::tcp::TcpStat::Filtered);
        }
        return 0;
    }
    count_on(sk, Counter::ResetSent);
    0
}

#[tracepoint]
pub fn kotel_tcp_receive_reset(ctx: TracePointContext) -> u32 {
    let sk: u64 = field(&ctx, OFF_RECV_SKADDR);
    count_on(sk, Counter::ResetReceived);
    0
}

/// Counts `which` on the socket at `sk`: in its owner entry and for its cgroup.
#[inline(always)]
fn count_on(sk: u64, which: Counter) {
    if sk == 0 {
        return;
    }
    let Some((cgroup, owner)) = attribute(sk) else {
        return;
    };
    if let Some(p) = owner {
        // SAFETY: value of a live owner entry (see `attribute`).
        let o = unsafe { &mut *p };
        match which {
            Counter::Retransmit => o.retransmits += 1,
            Counter::ResetSent => o.resets_sent += 1,
            Counter::ResetReceived => o.resets_received += 1,
        }
    }
    add(cgroup, which);
}
