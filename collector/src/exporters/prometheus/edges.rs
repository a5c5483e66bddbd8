//! The `le` edges an exponential family's series show in classic form, and the schemas
//! Prometheus's native histograms take.

use crate::event::exponential::{fitting_scale, shift, upper_edge, Exponential};

/// Prometheus native histograms' schemas: -4 ..= 8.
pub const NATIVE_SCALES: std::ops::RangeInclusive<i32> = -4..=8;

/// The `le` edges every series of a family shows: one scale and one index range for all
/// of them, which only ever widens (so a bucket never vanishes from a series between two
/// scrapes while the family lives). Every series then reports a count at every edge, and
/// `sum by (le)` across series and time adds like with like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeSet {
    /// The scale of the edges.
    pub scale: i32,
    /// First and last bucket index at that scale.
    pub range: Option<(i32, i32)>,
}

impl EdgeSet {
    /// The edge set that holds `histogram`.
    pub fn of(histogram: &Exponential) -> Self {
        Self {
            scale: histogram.scale,
            range: histogram.range(),
        }
    }

    /// Widens to also hold `other`, lowering the scale when the two differ or when the
    /// union would span more than [`MAX_BUCKETS`].
    pub fn widen(&mut self, other: EdgeSet) {
        let scale = self.scale.min(other.scale);
        let at = |set: EdgeSet| {
            let steps = set.scale - scale;
            set.range
                .map(|(lo, hi)| (shift(lo, steps), shift(hi, steps)))
        };
        let range = match (at(*self), at(other)) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        let fitted = range.map_or(scale, |(lo, hi)| fitting_scale(scale, lo, hi));
        let steps = scale - fitted;
        self.scale = fitted;
        self.range = range.map(|(lo, hi)| (shift(lo, steps), shift(hi, steps)));
    }

    /// The finite upper edges, ascending: 0 (the zero bucket), then each bucket's upper edge.
    pub fn edges(&self) -> Vec<f64> {
        let mut out = vec![0.0];
        if let Some((lo, hi)) = self.range {
            out.extend((lo..=hi).map(|i| upper_edge(self.scale, i)));
        }
        out
    }

    /// The cumulative count of `histogram` at each of [`Self::edges`] (`histogram` is
    /// downscaled to the set's scale first; the set must hold it).
    pub fn cumulative(&self, histogram: &Exponential) -> Vec<u64> {
        let mut h = histogram.clone();
        h.downscale(self.scale);
        let mut out = vec![h.zero_count];
        if let Some((lo, hi)) = self.range {
            out.extend((lo..=hi).map(|i| h.count_through(i)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::exponential::MAX_BUCKETS;

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
    fn every_series_of_a_family_counts_at_every_edge_and_stays_monotone() {
        let low = histogram(2, -50, &[3, 1], 2);
        let high = histogram(2, -20, &[4], 0);
        let mut set = EdgeSet::of(&low);
        set.widen(EdgeSet::of(&high));
        assert_eq!(set.range, Some((-50, -20)));
        let edges = set.edges();
        assert_eq!(edges.len(), 32);
        for h in [&low, &high] {
            let cumulative = set.cumulative(h);
            assert_eq!(cumulative.len(), edges.len());
            assert!(cumulative.windows(2).all(|w| w[0] <= w[1]));
            assert_eq!(*cumulative.last().unwrap(), h.count);
        }
        assert_eq!(set.cumulative(&high)[..31], [0; 31]);
        assert_eq!(set.cumulative(&low)[..3], [2, 5, 6]);
    }

    #[test]
    fn an_edge_set_of_different_scales_and_a_wide_union_lowers_its_scale() {
        let mut set = EdgeSet::of(&histogram(3, 0, &[1], 0));
        set.widen(EdgeSet::of(&histogram(2, -2, &[1], 0)));
        assert_eq!((set.scale, set.range), (2, Some((-2, 0))));
        set.widen(EdgeSet::of(&histogram(2, 10_000, &[1], 0)));
        let (lo, hi) = set.range.unwrap();
        assert!((hi - lo + 1) as usize <= MAX_BUCKETS);
        assert!(set.scale < 2);
    }
}
