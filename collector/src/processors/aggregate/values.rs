//! What one series accumulates: a sum, an explicit-bucket histogram or a base-2
//! exponential histogram, with the merge rules each needs.

use std::sync::Arc;

use kotel_common::tcp_quality::{MAX_INDEX, MIN_INDEX, SCALE};

pub use crate::event::exponential::Exponential;
use crate::event::{CgroupHistogram, Exemplar};

/// Why a histogram is refused: no kernel program makes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Not at the kernel's scale.
    Scale,
    /// Buckets outside the kernel's index range (merging them would grow a series'
    /// bucket vector without bound).
    IndexRange,
}

impl Refusal {
    /// The `reason` label.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Scale => "scale",
            Refusal::IndexRange => "index_range",
        }
    }
}

/// Ok when `h` has the shape the kernel's histograms have: its scale and buckets within
/// its index range. A series then never holds more than the kernel's bucket slots,
/// whatever a replay file says.
pub fn kernel_shape(h: &CgroupHistogram) -> Result<(), Refusal> {
    if h.scale != SCALE {
        return Err(Refusal::Scale);
    }
    let last = i64::from(h.offset) + h.bucket_counts.len() as i64 - 1;
    if !h.bucket_counts.is_empty() && (h.offset < MIN_INDEX || last > i64::from(MAX_INDEX)) {
        return Err(Refusal::IndexRange);
    }
    Ok(())
}

/// An explicit-bucket histogram's state.
#[derive(Clone, Debug, PartialEq)]
pub struct Explicit {
    /// Upper bounds, ascending (the last bucket is unbounded).
    pub bounds: Arc<[f64]>,
    /// `bounds.len() + 1` counts.
    pub counts: Vec<u64>,
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The latest exemplar per bucket since the last collection; empty until the first
    /// (a histogram without exemplars allocates nothing for them).
    pub exemplars: Vec<Option<Exemplar>>,
}

impl Explicit {
    /// An empty histogram with `bounds`.
    pub fn new(bounds: Arc<[f64]>) -> Self {
        Self {
            counts: vec![0; bounds.len() + 1],
            bounds,
            count: 0,
            sum: 0.0,
            exemplars: Vec::new(),
        }
    }

    /// Records `exemplar.value` once and keeps `exemplar` as its bucket's (replacing an
    /// earlier one of the same window).
    pub fn record_exemplar(&mut self, exemplar: Exemplar) {
        let bucket = self.record(exemplar.value, 1);
        if self.exemplars.is_empty() {
            self.exemplars = vec![None; self.counts.len()];
        }
        self.exemplars[bucket] = Some(exemplar);
    }

    /// The exemplars of the window, in bucket order, and starts a new window of them.
    pub fn take_exemplars(&mut self) -> Vec<Exemplar> {
        self.exemplars.iter_mut().filter_map(Option::take).collect()
    }

    /// Records `value` `n` times (a value equal to a bound falls in that bound's bucket,
    /// as OTLP's `(lower, upper]` buckets say); returns the bucket.
    pub fn record(&mut self, value: f64, n: u64) -> usize {
        let bucket = self.bounds.partition_point(|bound| *bound < value);
        self.counts[bucket] += n;
        self.count += n;
        self.sum += value * n as f64;
        bucket
    }

    /// Adds a kernel histogram, re-binned: each exponential bucket's count goes to the
    /// explicit bucket that holds its upper edge (lossy: resolution is that of `bounds`).
    pub fn record_exponential(&mut self, h: &CgroupHistogram) {
        if h.zero_count > 0 {
            self.counts[0] += h.zero_count;
        }
        for (i, n) in h.bucket_counts.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let (_, upper) = h.bucket_bounds(h.offset + i as i32);
            let bucket = self.bounds.partition_point(|bound| *bound < upper);
            self.counts[bucket] += n;
        }
        self.count += h.count;
        self.sum += h.sum;
    }
}

// The state is the model's (shared with the `prometheus` exporter); merging the kernel's
// histograms into it is this processor's.
impl Exponential {
    /// Adds a kernel histogram. Both must have the same scale (the kernel's is fixed);
    /// a different one is refused (returns false) rather than merged wrongly.
    pub fn merge(&mut self, h: &CgroupHistogram) -> bool {
        if self.count == 0 && self.counts.is_empty() {
            self.scale = h.scale;
        }
        if h.scale != self.scale {
            return false;
        }
        if !h.bucket_counts.is_empty() {
            // In place: the counts grow (and allocate) only when `h` reaches past them.
            if self.counts.is_empty() {
                self.offset = h.offset;
            }
            if h.offset < self.offset {
                let below = (self.offset - h.offset) as usize;
                self.counts.splice(0..0, std::iter::repeat_n(0, below));
                self.offset = h.offset;
            }
            let start = (h.offset - self.offset) as usize;
            let end = start + h.bucket_counts.len();
            if end > self.counts.len() {
                self.counts.resize(end, 0);
            }
            for (count, n) in self.counts[start..end].iter_mut().zip(&h.bucket_counts) {
                *count += n;
            }
        }
        self.zero_count += h.zero_count;
        self.count += h.count;
        self.sum += h.sum;
        true
    }
}

/// The state of one series.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A counter or up-down counter.
    Sum(i64),
    /// An explicit-bucket histogram.
    Explicit(Explicit),
    /// An exponential histogram.
    Exponential(Exponential),
}

impl Value {
    /// The same kind of value, emptied (a delta series after a collection).
    pub fn emptied(&self) -> Value {
        match self {
            Value::Sum(_) => Value::Sum(0),
            Value::Explicit(e) => Value::Explicit(Explicit::new(e.bounds.clone())),
            Value::Exponential(e) => Value::Exponential(Exponential {
                scale: e.scale,
                ..Exponential::default()
            }),
        }
    }
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
