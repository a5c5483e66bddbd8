//! Trace and span ids for spans that do not carry them: random, from a generator
//! seeded by the kernel (`getrandom`), never all zero (W3C Trace Context).

use crate::event::trace_ids::Id;
use crate::event::{SpanId, TraceId};

/// A SplitMix64 generator: fast, and ids only need to be unique, not secret.
pub struct Ids {
    state: u64,
}

impl Default for Ids {
    fn default() -> Self {
        let mut seed = [0u8; 8];
        // SAFETY: a valid buffer of its length.
        let got = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
        let seed = if got == 8 {
            u64::from_ne_bytes(seed)
        } else {
            crate::kernel::clock::monotonic_now_ns() ^ (u64::from(std::process::id()) << 32)
        };
        Self { state: seed }
    }
}

impl Ids {
    fn next(&mut self) -> u64 {
        loop {
            self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            if z != 0 {
                return z;
            }
        }
    }

    /// A new trace id.
    pub fn trace_id(&mut self) -> TraceId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.next().to_be_bytes());
        id[8..].copy_from_slice(&self.next().to_be_bytes());
        Id(id)
    }

    /// A new span id.
    pub fn span_id(&mut self) -> SpanId {
        Id(self.next().to_be_bytes())
    }
}
