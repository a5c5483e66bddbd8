//! When a program wakes its ring buffer's reader under a byte-threshold policy.

use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    maps::RingBuf,
};

/// Ring-buffer flags for the next record of `record_bytes` (header included) in `ring`
/// under threshold `wake`: 0 (the kernel's default: wake while the reader is caught up)
/// when `wake` is 0; otherwise no wakeup, except a forced one, reported through `woke`,
/// when this record crosses the threshold (once per fill cycle).
#[inline(always)]
pub fn threshold_flags(ring: &RingBuf, wake: u64, record_bytes: u64, woke: impl FnOnce()) -> u64 {
    if wake == 0 {
        return 0;
    }
    let avail = ring.query(BPF_RB_AVAIL_DATA as u64);
    if avail < wake && avail + record_bytes >= wake {
        woke();
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    }
}
