use super::*;
use crate::event::HistogramMetric;

fn kernel(offset: i32, counts: Vec<u64>, zero: u64) -> CgroupHistogram {
    let count = counts.iter().sum::<u64>() + zero;
    CgroupHistogram {
        workload: None,
        metric: HistogramMetric::TcpRtt,
        time_unix_nano: 0,
        start_time_unix_nano: 0,
        cgroup_id: 1,
        scale: 2,
        offset,
        bucket_counts: counts,
        zero_count: zero,
        count,
        sum: 0.5,
    }
}

#[test]
fn explicit_buckets_hold_values_up_to_and_including_their_bound() {
    let mut h = Explicit::new(Arc::from([1.0, 2.0]));
    for v in [0.5, 1.0, 1.5, 2.0, 3.0] {
        h.record(v, 1);
    }
    assert_eq!(h.counts, [2, 2, 1]);
    assert_eq!((h.count, h.sum), (5, 8.0));
}

#[test]
fn exponential_merges_align_offsets_and_keep_every_count() {
    let mut h = Exponential::default();
    assert!(h.merge(&kernel(-40, vec![1, 2], 0)));
    assert!(h.merge(&kernel(-42, vec![5], 3)));
    assert!(h.merge(&kernel(-39, vec![0, 7], 0)));
    assert_eq!(h.offset, -42);
    assert_eq!(h.counts, [5, 0, 1, 2, 7]);
    assert_eq!((h.zero_count, h.count), (3, 18));
    let mut other_scale = kernel(0, vec![1], 0);
    other_scale.scale = 3;
    assert!(!h.merge(&other_scale), "a different scale is refused");
    assert_eq!(h.count, 18);
}

#[test]
fn kernel_histograms_rebin_into_configured_buckets() {
    // Scale 2: bucket i spans (2^(i/4), 2^((i+1)/4)]; index -40 -> (2^-10, 2^-9.75].
    let mut h = Explicit::new(Arc::from([0.001, 0.002]));
    h.record_exponential(&kernel(-40, vec![1, 1, 1, 1, 1], 2));
    // Upper edges 0.00116, 0.00138, 0.00164, 0.00195 (<= 0.002) and 0.00232; zeros
    // go to the first bucket.
    assert_eq!(h.counts, [2, 4, 1]);
    assert_eq!(h.count, 7);
}
