//! An exponential histogram's state (OTLP form: base 2^(2^-scale), bucket `i` is
//! `(base^i, base^(i+1)]`, dense counts from an offset), shared by the `aggregate`
//! processor (which merges the kernel's histograms into it) and the `prometheus` exporter
//! (which adds deltas and shows it natively or as `le` buckets).
//!
//! Contract: what [`Exponential::from_point`] and [`Exponential::add`] build never holds
//! more than [`MAX_BUCKETS`] buckets. Whatever would (a point reaching far from the
//! others, two deltas far apart) is downscaled first, halving the resolution per step as
//! the OTLP specification's downscaling does (index `i` at scale `s` is index `i >> d` at
//! scale `s - d`): memory stays bounded whatever the input, and no count is lost.

use crate::event::ExponentialPoint;

/// The most buckets one histogram, or one family's classic edge set, spans (OTel SDKs'
/// default `max_size`; 160 buckets at scale 2 cover 2^40, from 1 ns to 18 minutes).
pub const MAX_BUCKETS: usize = 160;

/// One exponential histogram (positive values and zeros).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exponential {
    /// The scale.
    pub scale: i32,
    /// Values that were zero.
    pub zero_count: u64,
    /// Index of `counts[0]`.
    pub offset: i32,
    /// Counts from `offset` upward.
    pub counts: Vec<u64>,
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

impl Exponential {
    /// The histogram of an OTLP point, trimmed and downscaled to fit [`MAX_BUCKETS`].
    /// Buckets past index `i32::MAX - 1` (no real histogram reaches them) are left out,
    /// and the scale is clamped to -10 ..= 20 (OTLP's own range; others are corrupt).
    pub fn from_point(p: &ExponentialPoint) -> Self {
        let room = (i64::from(i32::MAX) - 1 - i64::from(p.offset) + 1).max(0) as usize;
        let mut out = Self {
            scale: p.scale.clamp(-10, 20),
            zero_count: p.zero_count,
            offset: p.offset,
            counts: p.bucket_counts[..p.bucket_counts.len().min(room)].to_vec(),
            count: p.count,
            sum: p.sum,
        };
        out.trim();
        out.fit();
        out
    }

    /// First and last bucket index held, `None` when only zeros (or nothing) were seen.
    pub fn range(&self) -> Option<(i32, i32)> {
        (!self.counts.is_empty())
            .then(|| (self.offset, self.offset + (self.counts.len() as i32 - 1)))
    }

    /// Adds `other` (a delta): both go to the lower of the two scales, then lower still
    /// if together they would span more than [`MAX_BUCKETS`].
    pub fn add(&mut self, other: &Exponential) {
        let mut other = other.clone();
        let scale = self.scale.min(other.scale);
        self.downscale(scale);
        other.downscale(scale);
        if let (Some(a), Some(b)) = (self.range(), other.range()) {
            let scale = fitting_scale(scale, a.0.min(b.0), a.1.max(b.1));
            self.downscale(scale);
            other.downscale(scale);
        }
        if let Some((lo, hi)) = other.range() {
            let (lo, hi) = match self.range() {
                Some((a, b)) => (lo.min(a), hi.max(b)),
                None => (lo, hi),
            };
            let mut counts = vec![0u64; (hi - lo + 1) as usize];
            for h in [&*self, &other]
                .into_iter()
                .filter(|h| !h.counts.is_empty())
            {
                let start = (h.offset - lo) as usize;
                for (slot, n) in counts[start..].iter_mut().zip(&h.counts) {
                    *slot += n;
                }
            }
            self.offset = lo;
            self.counts = counts;
        }
        self.zero_count += other.zero_count;
        self.count += other.count;
        self.sum += other.sum;
    }

    /// Lowers the scale to `scale` (no-op when it is not lower), merging buckets.
    pub fn downscale(&mut self, scale: i32) {
        let Some(steps) = self.scale.checked_sub(scale).filter(|d| *d > 0) else {
            return;
        };
        if let Some((lo, hi)) = self.range() {
            let (new_lo, new_hi) = (shift(lo, steps), shift(hi, steps));
            let mut counts = vec![0u64; (new_hi - new_lo + 1) as usize];
            for (i, n) in self.counts.iter().enumerate() {
                counts[(shift(self.offset + i as i32, steps) - new_lo) as usize] += n;
            }
            self.offset = new_lo;
            self.counts = counts;
        }
        self.scale = scale;
    }

    /// Values up to and including bucket `index` (zeros included); every value for an
    /// index past the last bucket.
    pub fn count_through(&self, index: i32) -> u64 {
        let below =
            (i64::from(index) - i64::from(self.offset) + 1).clamp(0, self.counts.len() as i64);
        let below = below as usize;
        self.zero_count + self.counts[..below].iter().sum::<u64>()
    }

    /// Drops empty buckets at both ends.
    fn trim(&mut self) {
        let Some(first) = self.counts.iter().position(|n| *n > 0) else {
            self.counts.clear();
            return;
        };
        let last = self.counts.iter().rposition(|n| *n > 0).unwrap_or(first);
        self.counts.truncate(last + 1);
        self.counts.drain(..first);
        self.offset += first as i32;
    }

    /// Downscales until the populated range fits [`MAX_BUCKETS`].
    fn fit(&mut self) {
        if let Some((lo, hi)) = self.range() {
            self.downscale(fitting_scale(self.scale, lo, hi));
        }
    }
}

/// The upper edge of bucket `index` at `scale`: base^(index+1).
pub fn upper_edge(scale: i32, index: i32) -> f64 {
    // 2^((index+1) * 2^-scale), exact for every whole power of two.
    ((index as f64 + 1.0) * 2f64.powi(-scale)).exp2()
}

/// Index `index` at a scale `steps` lower (floor division by 2^steps; scales differ by at
/// most a few dozen, so the shift stays in range).
pub fn shift(index: i32, steps: i32) -> i32 {
    index >> steps.min(31)
}

/// The highest scale not above `scale` at which indexes `lo ..= hi` (at `scale`) span at
/// most [`MAX_BUCKETS`] buckets.
pub fn fitting_scale(scale: i32, lo: i32, hi: i32) -> i32 {
    let mut steps = 0;
    while (i64::from(shift(hi, steps)) - i64::from(shift(lo, steps)) + 1) as usize > MAX_BUCKETS {
        steps += 1;
    }
    scale - steps
}

#[cfg(test)]
#[path = "exponential_tests.rs"]
mod tests;
