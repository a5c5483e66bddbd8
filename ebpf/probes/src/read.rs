//! Reading tracepoint records.

use aya_ebpf::{programs::TracePointContext, EbpfContext};

/// Reads the field at byte offset `off` of a tracepoint record. Volatile, so LLVM neither
/// merges loads nor turns them into loads through a computed pointer, which the verifier
/// rejects ("dereference of modified ctx ptr").
#[inline(always)]
pub fn field<T: Copy>(ctx: &TracePointContext, off: usize) -> T {
    // SAFETY: callers pass a field offset of the tracepoint's (stable) record format,
    // naturally aligned for `T`.
    unsafe { core::ptr::read_volatile(ctx.as_ptr().cast::<u8>().add(off).cast::<T>()) }
}
