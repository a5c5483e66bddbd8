//! The tracepoint record: field offsets, one read of every field, and the socket's netns.

use aya_ebpf::{helpers::bpf_probe_read_kernel, programs::TracePointContext};
use kotel_common::tcp::{TcpStat, AF_INET6};
pub(super) use kotel_probes::read::field;

use super::{count, KOTEL_TCP_SOCK_OFFSETS};

// Field offsets of the tracepoint record (stable format, see
// /sys/kernel/tracing/events/sock/inet_sock_set_state/format).
pub(super) const OFF_SKADDR: usize = 8;
pub(super) const OFF_OLDSTATE: usize = 16;
pub(super) const OFF_NEWSTATE: usize = 20;
pub(super) const OFF_SPORT: usize = 24;
pub(super) const OFF_DPORT: usize = 26;
pub(super) const OFF_FAMILY: usize = 28;
pub(super) const OFF_PROTOCOL: usize = 30;
pub(super) const OFF_SADDR: usize = 32;
pub(super) const OFF_DADDR: usize = 36;
pub(super) const OFF_SADDR_V6: usize = 40;
pub(super) const OFF_DADDR_V6: usize = 56;

/// One observed transition: the tracepoint fields, read once, plus the time. `repr(C)`
/// keeps the addresses 8-byte aligned (offsets 32 and 48) for word copies.
#[repr(C)]
pub(super) struct Transition {
    pub(super) sk: u64,
    pub(super) old: u32,
    pub(super) new: u32,
    /// Set by the handlers that emit (0 until then).
    pub(super) now: u64,
    pub(super) family: u16,
    pub(super) sport: u16,
    pub(super) dport: u16,
    pub(super) saddr: [u32; 4],
    pub(super) daddr: [u32; 4],
}

const _: () = assert!(
    core::mem::offset_of!(Transition, saddr) % 8 == 0
        && core::mem::offset_of!(Transition, daddr) % 8 == 0
);

impl Transition {
    /// The local address as 16 bytes (IPv4 in the first 4).
    #[inline(always)]
    pub(super) fn saddr_bytes(&self) -> &[u8; 16] {
        // SAFETY: [u32; 4] and [u8; 16] have the same size; u8 has no alignment needs.
        unsafe { &*self.saddr.as_ptr().cast::<[u8; 16]>() }
    }

    /// The remote address as 16 bytes.
    #[inline(always)]
    pub(super) fn daddr_bytes(&self) -> &[u8; 16] {
        // SAFETY: as for `saddr_bytes`.
        unsafe { &*self.daddr.as_ptr().cast::<[u8; 16]>() }
    }

    /// Reads every field into `self`; both address forms are read unconditionally (no
    /// pointer selection for the verifier to reject) and the family picks one.
    #[inline(always)]
    pub(super) fn fill(&mut self, ctx: &TracePointContext, old: u32, new: u32) {
        let family: u16 = field(ctx, OFF_FAMILY);
        self.sk = field(ctx, OFF_SKADDR);
        self.old = old;
        self.new = new;
        self.now = 0;
        self.family = family;
        self.sport = field(ctx, OFF_SPORT);
        self.dport = field(ctx, OFF_DPORT);
        if family == AF_INET6 {
            self.saddr = field(ctx, OFF_SADDR_V6);
            self.daddr = field(ctx, OFF_DADDR_V6);
        } else {
            self.saddr = [field(ctx, OFF_SADDR), 0, 0, 0];
            self.daddr = [field(ctx, OFF_DADDR), 0, 0, 0];
        }
    }
}

/// Inode of the socket's network namespace, 0 when the offsets are unknown or a read fails.
#[inline(always)]
pub(super) fn netns(sk: u64) -> u32 {
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
