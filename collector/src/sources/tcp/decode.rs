//! Ring-buffer record -> [`TcpConnEvent`].
//!
//! Contract: [`decode`] accepts exactly one `kotel_common::tcp::TcpEvent` of exactly
//! [`TCP_EVENT_SIZE`] bytes. A shorter record is [`DecodeError::Truncated`]; a longer one is
//! [`DecodeError::Oversized`] and is rejected, not read by its prefix: a size mismatch means
//! the kernel object and the agent disagree on the layout, and guessing would emit wrong
//! data. Unknown kinds and families are errors too. Errors never panic; the reader counts
//! them as `kotel.source.decode_errors{source="tcp", reason=DecodeError::reason()}`.

pub use crate::kernel::clock::ClockOffset;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use kotel_common::tcp::{
    self as wire, state, TcpEvent, AF_INET, AF_INET6, DIRECTION_INBOUND, DIRECTION_OUTBOUND,
    TCP_EVENT_SIZE,
};

use crate::event::{Direction, TcpConnEvent, TcpConnStats, TcpEventKind};
use crate::kernel::task_names::TaskNames;

/// Why a record could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than a `TcpEvent`.
    #[error("record of {0} bytes is shorter than a TcpEvent ({TCP_EVENT_SIZE} bytes)")]
    Truncated(usize),
    /// More bytes than a `TcpEvent` (agent and kernel object disagree on the layout).
    #[error("record of {0} bytes is longer than a TcpEvent ({TCP_EVENT_SIZE} bytes)")]
    Oversized(usize),
    /// A `kind` value this build does not know.
    #[error("unknown event kind {0}")]
    UnknownKind(u32),
    /// A `family` other than AF_INET and AF_INET6.
    #[error("unknown address family {0}")]
    UnknownFamily(u16),
}

impl DecodeError {
    /// Value of the `reason` label when counting this error.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated(_) => "truncated",
            DecodeError::Oversized(_) => "oversized",
            DecodeError::UnknownKind(_) => "unknown_kind",
            DecodeError::UnknownFamily(_) => "unknown_family",
        }
    }
}

/// Decodes one ring-buffer record (task names uncached: see [`decode_with`]).
pub fn decode(bytes: &[u8], clock: &ClockOffset) -> Result<TcpConnEvent, DecodeError> {
    decode_with(bytes, clock, &mut TaskNames::default())
}

/// Decodes one ring-buffer record, taking the task name from `names` (the reader keeps one
/// cache for all its records).
pub fn decode_with(
    bytes: &[u8],
    clock: &ClockOffset,
    names: &mut TaskNames,
) -> Result<TcpConnEvent, DecodeError> {
    match bytes.len() {
        n if n < TCP_EVENT_SIZE => return Err(DecodeError::Truncated(n)),
        n if n > TCP_EVENT_SIZE => return Err(DecodeError::Oversized(n)),
        _ => {}
    }
    // SAFETY: exactly size_of::<TcpEvent>() bytes; TcpEvent is plain old data (any bit
    // pattern is valid) and read_unaligned has no alignment requirement.
    let ev: TcpEvent = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    let kind =
        match wire::TcpEventKind::from_u32(ev.kind).ok_or(DecodeError::UnknownKind(ev.kind))? {
            wire::TcpEventKind::Connect => TcpEventKind::Connect,
            wire::TcpEventKind::Accept => TcpEventKind::Accept,
            wire::TcpEventKind::ConnectFailed => TcpEventKind::ConnectFailed,
            wire::TcpEventKind::Close => TcpEventKind::Close,
        };
    let (local_addr, remote_addr) = match ev.family {
        AF_INET => (v4(&ev.local_addr), v4(&ev.remote_addr)),
        AF_INET6 => (v6(ev.local_addr), v6(ev.remote_addr)),
        f => return Err(DecodeError::UnknownFamily(f)),
    };
    let direction = match ev.direction {
        DIRECTION_OUTBOUND => Direction::Outbound,
        DIRECTION_INBOUND => Direction::Inbound,
        _ => Direction::Unknown,
    };
    let failed_state =
        (kind == TcpEventKind::ConnectFailed).then(|| match state::name(ev.old_state) {
            Some(name) => name.to_string(),
            None => format!("state_{}", ev.old_state),
        });
    Ok(TcpConnEvent {
        workload: None,
        kind,
        time_unix_nano: clock.unix_nanos(ev.timestamp_ns),
        direction,
        local_addr,
        local_port: ev.local_port,
        remote_addr,
        remote_port: ev.remote_port,
        connect_latency_ns: (ev.connect_latency_ns > 0).then_some(ev.connect_latency_ns),
        duration_ns: (kind == TcpEventKind::Close && ev.duration_ns > 0).then_some(ev.duration_ns),
        failed_state,
        pid: ev.pid,
        comm: names.get(&ev.comm),
        cgroup_id: ev.cgroup_id,
        netns: ev.netns,
        sock_id: ev.sock_id,
        stats: matches!(kind, TcpEventKind::Close | TcpEventKind::ConnectFailed).then(|| {
            TcpConnStats {
                bytes_sent: ev.bytes_sent,
                bytes_received: ev.bytes_received,
                srtt_us: ev.srtt_us,
                min_rtt_us: ev.min_rtt_us,
                retransmits: ev.retransmits,
                resets_sent: ev.resets_sent,
                resets_received: ev.resets_received,
            }
        }),
    })
}

fn v4(a: &[u8; 16]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
}

/// IPv6, with v4-mapped addresses (`::ffff:a.b.c.d`, dual-stack sockets) shown as IPv4.
fn v6(a: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a)).to_canonical()
}

#[cfg(test)]
#[path = "decode_tests.rs"]
pub(crate) mod tests;
