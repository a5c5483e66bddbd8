//! RTT samples: a cgroup `sock_ops` program (attached to the cgroup2 root) that asks for
//! `BPF_SOCK_OPS_RTT_CB` on every connection it sees established and folds each RTT
//! callback into the owner's `tcp_rtt` histogram.
//!
//! Why this hook: the RTT callback runs once per update of the kernel's RTT estimator, not
//! once per received segment like `tcp:tcp_probe`, and hands over the updated `srtt`
//! directly. The per-sample path avoids hash maps (one costs ~30-60 ns here): the owner's
//! cgroup and filter verdict are cached in socket storage (`KOTEL_TCP_SOCK_CACHE`, looked
//! up in `KOTEL_TCP_SOCKS` once per socket and filter change), and the histogram is a
//! per-CPU array row (see `agg`).
//!
//! Contract: the sample is the socket's smoothed RTT right after the update
//! (`args[1]`, µs << 3, recorded as ns = srtt8 * 125, exact). Connections established
//! before the program attached are not sampled (their callback flag is never set); a
//! socket without a remembered owner at its first sample counts under cgroup 0.

use aya_ebpf::{
    bindings::{
        BPF_SK_STORAGE_GET_F_CREATE, BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB,
        BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB, BPF_SOCK_OPS_RTT_CB, BPF_SOCK_OPS_RTT_CB_FLAG,
    },
    btf_maps::SkStorage,
    helpers::generated::bpf_sk_storage_get,
    macros::{btf_map, sock_ops},
    programs::SockOpsContext,
};
use kotel_common::tcp::TcpStat;
use kotel_common::tcp_quality::metric;

use super::agg::{attribute, filter_tag, record};
use super::count;

/// What the RTT path remembers per socket.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SockCache {
    /// Owner's cgroup (0 when no owner was remembered).
    cgroup_id: u64,
    /// [`filter_tag`] the verdict was computed under; 0 = not yet.
    tag: u32,
    /// Non-zero when the filters allow the socket's samples.
    allowed: u32,
}

/// Per-socket [`SockCache`], freed with the socket.
#[btf_map]
pub(super) static KOTEL_TCP_SOCK_CACHE: SkStorage<SockCache> = SkStorage::new();

/// The verdict user space sees; sock_ops ignores it unless a reply was set (none is).
const PASS: u32 = 1;

#[sock_ops]
pub fn kotel_tcp_sockops(ctx: SockOpsContext) -> u32 {
    match ctx.op() {
        BPF_SOCK_OPS_RTT_CB => rtt(&ctx),
        BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB | BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB => {
            // Keep flags other programs set; a failure only means no RTT samples.
            let _ = ctx.set_cb_flags((ctx.cb_flags() | BPF_SOCK_OPS_RTT_CB_FLAG) as i32);
        }
        _ => {}
    }
    PASS
}

#[inline(always)]
fn rtt(ctx: &SockOpsContext) {
    // SAFETY: reading the context's `sk` field (a full socket in RTT callbacks).
    let sk = unsafe { (*ctx.ops).__bindgen_anon_2.sk };
    if sk.is_null() {
        return;
    }
    let map = core::ptr::from_ref(&KOTEL_TCP_SOCK_CACHE).cast_mut().cast();
    let flags = u64::from(BPF_SK_STORAGE_GET_F_CREATE);
    // SAFETY: a full socket from the context; NULL initial value = zeroed storage.
    let cache = unsafe { bpf_sk_storage_get(map, sk.cast(), core::ptr::null_mut(), flags) };
    if cache.is_null() {
        count(TcpStat::AggMapFull);
        return;
    }
    // SAFETY: this socket's storage; its callbacks run under the socket lock.
    let cache = unsafe { &mut *cache.cast::<SockCache>() };
    let tag = filter_tag();
    if cache.tag != tag {
        resolve(ctx, sk as u64, cache, tag);
        if cache.allowed == 0 {
            return; // counted as Filtered by `attribute`
        }
    } else if cache.allowed == 0 {
        count(TcpStat::Filtered);
        return;
    }
    record(cache.cgroup_id, metric::RTT, u64::from(ctx.arg(1)) * 125);
}

/// Fills `cache` from the owner map and the filters (once per socket and filter change).
#[inline(always)]
fn resolve(ctx: &SockOpsContext, sk: u64, cache: &mut SockCache, tag: u32) {
    // remote_port holds the network-order port in its upper 16 bits.
    let ports = || {
        (
            ctx.local_port() as u16,
            u16::from_be((ctx.remote_port() >> 16) as u16),
        )
    };
    match attribute(sk, ports, || 0) {
        Some((cgroup, _)) => (cache.cgroup_id, cache.allowed) = (cgroup, 1),
        None => cache.allowed = 0,
    }
    cache.tag = tag;
}
