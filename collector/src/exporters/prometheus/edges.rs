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
mod tests {
    use super::*;

    fn histogram(scale: i32, offset: i32, counts: &[u64], zeros: u64) -> Exponential {
        Exponential {
            scale,
            zero_count: zeros,
            offset,
            counts: counts.to_vec(),
            count: zeros + counts.iter().sum::<u64>(),
            sum: 1.0,
        }
    }

    #[test]
    fn the_classic_edges_are_fixed_doublings_over_the_kernel_range() {
        let set = EdgeSet::for_scale(2);
        assert_eq!(set, EdgeSet::for_scale(CLASSIC_SCALE));
        let edges = set.edges();
        assert_eq!(edges.len(), 1 + 34);
        assert_eq!(edges[1], 2f64.powi(-23));
        assert_eq!(*edges.last().unwrap(), 2f64.powi(10));
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            EdgeSet::for_scale(-1).scale,
            -1,
            "coarser data keeps its scale"
        );
    }

    #[test]
    fn every_series_counts_at_every_edge_and_stays_monotone() {
        let set = EdgeSet::for_scale(2);
        // (2^-12.5, 2^-12] and (2^-5, 2^-4.75] at scale 2, plus zeros.
        let low = histogram(2, -50, &[3, 1], 2);
        let high = histogram(2, -20, &[4], 0);
        let far = histogram(2, 60, &[5], 0);
        for h in [&low, &high, &far] {
            let cumulative = set.cumulative(h);
            assert_eq!(cumulative.len(), set.edges().len());
            assert!(cumulative.windows(2).all(|w| w[0] <= w[1]));
        }
        let at = |h: &Exponential, edge: f64| {
            let i = set.edges().iter().position(|e| *e == edge).unwrap();
            set.cumulative(h)[i]
        };
        assert_eq!(at(&low, 0.0), 2);
        assert_eq!(at(&low, 2f64.powi(-13)), 2);
        assert_eq!(at(&low, 2f64.powi(-12)), 6);
        assert_eq!(at(&high, 2f64.powi(-5)), 0);
        assert_eq!(at(&high, 2f64.powi(-4)), 4);
        assert_eq!(
            at(&far, 2f64.powi(10)),
            0,
            "beyond the last edge: +Inf only"
        );
    }
}
