//! The record under construction, kept in a per-CPU map (`KOTEL_L7_SCRATCH`) rather than
//! on the 512-byte stack, and its way into the ring buffer. Safe because classic
//! tracepoint programs never nest on a CPU: one program at a time owns this CPU's value.

use kotel_common::l7::{L7Header, L7Stat, CAPTURE_MAX, HEADER_BYTES};
use kotel_probes::{mem::masked, vfs::Span, wakeup::threshold_flags};

use super::{count, KOTEL_L7_EVENTS, KOTEL_L7_SCRATCH, KOTEL_L7_WAKEUP_BYTES};

/// Payload room: twice [`CAPTURE_MAX`], so that a copy starting anywhere below
/// `CAPTURE_MAX` with a length of at most `CAPTURE_MAX` stays inside (what the verifier
/// checks on every kernel).
#[repr(C, align(8))]
pub(super) struct Payload(pub [u8; 2 * CAPTURE_MAX]);

/// One record: the header, then the payload (an open record's `ConnInfo`, or captured
/// bytes), contiguous as the ring record; then scratch for VFS reads.
#[repr(C)]
pub(super) struct Scratch {
    pub header: L7Header,
    pub payload: Payload,
    pub span: Span,
}

/// This CPU's scratch.
#[inline(always)]
pub(super) fn scratch() -> Option<*mut Scratch> {
    KOTEL_L7_SCRATCH.get_ptr_mut(0)
}

/// Writes the header and the first `payload` bytes of `s` (at most `2 * CAPTURE_MAX`) to
/// the ring buffer; counts a full ring.
///
/// # Safety
/// `s` is this CPU's scratch.
#[inline(always)]
pub(super) unsafe fn send(s: *mut Scratch, payload: u32) {
    let mut len = HEADER_BYTES as u64 + u64::from(payload);
    if len > (HEADER_BYTES + 2 * CAPTURE_MAX) as u64 {
        len = (HEADER_BYTES + 2 * CAPTURE_MAX) as u64;
    }
    let len = masked(len, 4 * CAPTURE_MAX as u64 - 1);
    let wake = KOTEL_L7_WAKEUP_BYTES.load();
    let flags = threshold_flags(&KOTEL_L7_EVENTS, wake, len + 8, || {});
    // SAFETY: `len` bytes from the start of the scratch value lie inside it.
    let bytes = unsafe { core::slice::from_raw_parts(s.cast::<u8>(), len as usize) };
    if KOTEL_L7_EVENTS.output::<[u8]>(bytes, flags).is_err() {
        count(L7Stat::RingbufFull);
    }
}
