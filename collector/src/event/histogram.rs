//! Histograms aggregated inside the kernel per cgroup, in OTLP exponential-histogram form.

use serde::{Deserialize, Serialize};

use crate::event::Attribution;

/// What a kernel histogram measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistogramMetric {
    /// Smoothed round-trip time samples of TCP sockets, seconds.
    TcpRtt,
    /// TCP connect latency (SYN_SENT -> ESTABLISHED), seconds.
    TcpConnectLatency,
}

/// One cgroup's histogram over one interval (delta): an OTLP exponential histogram with
/// base 2^(2^-scale), counts of the positive buckets from `offset`, values in seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CgroupHistogram {
    /// What is measured.
    pub metric: HistogramMetric,
    /// Wall-clock end of the interval, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Wall-clock start of the interval, nanoseconds since the Unix epoch.
    pub start_time_unix_nano: u64,
    /// cgroup v2 id the samples belong to (0 when unknown).
    pub cgroup_id: u64,
    /// OTLP exponential-histogram scale.
    pub scale: i32,
    /// Index of the first bucket in `bucket_counts` (OTLP `positive.offset`).
    pub offset: i32,
    /// Counts per bucket, from `offset` upward.
    pub bucket_counts: Vec<u64>,
    /// Samples of value zero (OTLP `zero_count`).
    pub zero_count: u64,
    /// Number of samples.
    pub count: u64,
    /// Sum of the samples, seconds.
    pub sum: f64,
    /// The container, pod and namespace (or host) of the event, set by `k8s_cri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Attribution,
}

impl CgroupHistogram {
    /// The bucket base, 2^(2^-scale).
    pub fn base(&self) -> f64 {
        2f64.powf(2f64.powi(-self.scale))
    }

    /// Bounds `(lower, upper]` in seconds of the bucket with OTLP index `index`.
    pub fn bucket_bounds(&self, index: i32) -> (f64, f64) {
        let base = self.base();
        (base.powi(index), base.powi(index + 1))
    }

    /// OTLP index of the bucket holding the sample of rank ceil(q * count) (q in 0..=1),
    /// e.g. `q = 0.5` for the median. `None` when empty or when that sample is a zero.
    pub fn quantile_index(&self, q: f64) -> Option<i32> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = self.zero_count;
        if seen >= rank {
            return None;
        }
        for (i, n) in self.bucket_counts.iter().enumerate() {
            seen = seen.saturating_add(*n);
            if seen >= rank {
                return i32::try_from(i).ok().map(|i| self.offset + i);
            }
        }
        None
    }

    /// OTLP index of a positive `value` at `scale` (bucket `(base^i, base^(i+1)]`),
    /// computed in floating point: the reference the kernel's integer buckets are tested
    /// against (values within an ulp of a boundary may land on either side).
    pub fn index_of(value: f64, scale: i32) -> i32 {
        (value.log2() * 2f64.powi(scale)).ceil() as i32 - 1
    }
}
