//! Histograms aggregated inside the kernel per cgroup, in OTLP exponential-histogram form.

use serde::{Deserialize, Serialize};

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
}
