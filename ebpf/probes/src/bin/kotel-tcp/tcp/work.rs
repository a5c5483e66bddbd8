//! The working state of one `kotel_tcp_state` run: the transition, the socket's owner and
//! its statistics. It lives in a per-CPU scratch map (`KOTEL_TCP_SCRATCH`), not on the BPF
//! stack, so every handler passes one pointer and no frame holds a copy of an owner or a
//! record: the deepest call chain stays far below the 512-byte stack on every kernel.
//!
//! Contract: only `kotel_tcp_state` (a classic tracepoint program) uses it. The kernel
//! never runs two classic tracepoint programs nested on one CPU (`bpf_prog_active`: the
//! inner one is skipped and counted as missed), so a run has the CPU's slot to itself from
//! start to end; the `tp_btf` RTT program, which can interrupt it, never touches it.

use kotel_common::tcp::{ListenerOwner, SockOwner};

use super::record::Transition;
use super::sock::ConnStats;

/// One run's state; every field is written before it is read in that run.
pub(super) struct Work {
    /// The transition, read from the tracepoint record.
    pub(super) t: Transition,
    /// The socket's owner (remembered, a listener's, or unknown).
    pub(super) owner: SockOwner,
    /// What a close or failed-connect record carries (zeros for connect and accept).
    pub(super) stats: ConnStats,
    /// The entry a listen() creates in `KOTEL_TCP_LISTENERS`.
    pub(super) listener: ListenerOwner,
}
