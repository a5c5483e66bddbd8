//! RTT samples: a `tp_btf/tcp_probe` program that, for every segment an established socket
//! receives that acknowledges new data (the segments the kernel's RTT estimator learns
//! from), folds the socket's smoothed RTT into the owner's `tcp_rtt` histogram.
//!
//! Why this hook, chosen by measurement (`scripts/bench.sh`): it runs only for established
//! sockets with traffic, ~5 times for a short connect/request/close at ~120 ns; a cgroup
//! `sock_ops` program runs on every socket callback of every connection (13 for the same
//! connection, ~160 ns each here) before it can even ask for RTT callbacks. Segments that
//! acknowledge nothing new (a bulk receiver's data, whose srtt never moves) are skipped
//! after two reads, so they cannot swamp the histogram with a stale handshake RTT. The
//! owner and its cached filter verdict come from `KOTEL_TCP_SOCKS` (one hash lookup):
//! per-socket storage was dearer, since creating it for each short-lived socket costs
//! more (~330 ns per run against ~120 ns) than the lookups it saves.
//!
//! Contract: one sample per received segment whose acknowledgment number is after
//! `snd_una` and not after `snd_nxt` (an ACK of data never sent reaches this hook, which
//! fires before `tcp_ack` validates it, and the kernel then drops it); the sample is the socket's smoothed RTT (`tcp_sock.srtt_us`, µs << 3,
//! recorded as ns = srtt8 * 125, exact) as that segment arrives, i.e. the estimate before
//! this ACK's own update. A socket with no estimate yet (srtt 0) gives no sample.
//! Connections established before the program attached are sampled too. Samples are
//! attributed as `agg::attribute` says (a socket without a remembered owner: its own
//! cgroup). The loader loads the program only when the `tcp_sock` (close) and ACK offset
//! groups were resolved.

use aya_ebpf::{macros::btf_tracepoint, programs::BtfTracePointContext};
use kotel_common::tcp_quality::metric;

use super::agg::{attribute, record};
use super::sock::read;
use super::{KOTEL_TCP_ACK_FIELDS, KOTEL_TCP_CLOSE_FIELDS};

/// `tcp_probe(struct sock *sk, struct sk_buff *skb)`.
#[btf_tracepoint(function = "tcp_probe")]
pub fn kotel_tcp_rtt(ctx: BtfTracePointContext) -> u32 {
    // The arguments of tcp_probe: the receiving full socket and the segment.
    let (sk, skb): (u64, u64) = (ctx.arg(0), ctx.arg(1));
    if sk != 0 && skb != 0 {
        rtt(sk, skb);
    }
    0
}

#[inline(always)]
fn rtt(sk: u64, skb: u64) {
    let ack = KOTEL_TCP_ACK_FIELDS.load();
    let ack_seq = read::<u32>(skb + u64::from(ack.skb_ack_seq));
    let snd_una = read::<u32>(sk + u64::from(ack.snd_una));
    let snd_nxt = read::<u32>(sk + u64::from(ack.snd_nxt));
    // Acceptable ACKs only, snd_una < ack_seq <= snd_nxt in sequence space: tcp_probe fires
    // first in tcp_rcv_established, before tcp_ack drops an ACK of data never sent.
    if (snd_una.wrapping_sub(ack_seq) as i32) >= 0 || (ack_seq.wrapping_sub(snd_nxt) as i32) > 0 {
        return;
    }
    let srtt8 = read::<u32>(sk + u64::from(KOTEL_TCP_CLOSE_FIELDS.load().srtt_us));
    if srtt8 == 0 {
        return;
    }
    if let Some((cgroup, _)) = attribute(sk) {
        record(cgroup, metric::RTT, u64::from(srtt8) * 125);
    }
}
