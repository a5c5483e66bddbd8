//! The `le` edges exponential histograms show in classic form, and the schemas
//! Prometheus's native histograms take.
//!
//! Contract: the classic edges are fixed, not taken from the data, so every series of a
//! family, on every node and at every scrape, shows the same `le` set: the zero bucket,
//! then one edge per doubling over the kernel histograms' range (2^-23 s … 2^10 s; values
//! below count in the first bucket, above only in `+Inf`). `sum by (le)` across pods,
//! nodes and time then adds like with like. That is 36 series per histogram series, a
//! bucket per doubling like the usual hand-picked latency buckets; native histograms keep
//! the full scale-2 resolution. Data coarser than one bucket per doubling (scale < 0, which
//! no kernel program makes) gets the same range at its own scale.

use kotel_common::tcp_quality::{MAX_INDEX, MIN_INDEX, SCALE};

use crate::event::exponential::{shift, upper_edge, Exponential};

/// Prometheus native histograms' schemas: -4 ..= 8.
pub const NATIVE_SCALES: std::ops::RangeInclusive<i32> = -4..=8;

/// The scale of the classic edges: a bucket per doubling.
pub const CLASSIC_SCALE: i32 = 0;

/// A family's classic edges: bucket indexes `range` at `scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeSet {
    /// The scale of the edges.
    pub scale: i32,
    /// First and last bucket index at that scale.
    pub range: (i32, i32),
}

impl EdgeSet {
    /// The edges of a family whose finest common scale is `scale` (the lowest scale of its
    /// series): [`CLASSIC_SCALE`] over the kernel's range, or that range at `scale` when
    /// it is coarser.
    pub fn for_scale(scale: i32) -> Self {
        let scale = scale.min(CLASSIC_SCALE);
        let steps = SCALE - scale;
        Self {
            scale,
            range: (shift(MIN_INDEX, steps), shift(MAX_INDEX, steps)),
        }
    }

    /// The finite upper edges, ascending: 0 (the zero bucket), then each bucket's upper edge.
    pub fn edges(&self) -> Vec<f64> {
        let (lo, hi) = self.range;
        std::iter::once(0.0)
            .chain((lo..=hi).map(|i| upper_edge(self.scale, i)))
            .collect()
    }

    /// The cumulative count of `histogram` at each of [`Self::edges`] (`histogram` is
    /// downscaled to the set's scale first).
    pub fn cumulative(&self, histogram: &Exponential) -> Vec<u64> {
        let mut h = histogram.clone();
        h.downscale(self.scale);
        let (lo, hi) = self.range;
        std::iter::once(h.zero_count)
            .chain((lo..=hi).map(|i| h.count_through(i)))
            .collect()
    }
}

#[cfg(test)]
#[path = "edges_tests.rs"]
mod tests;
