use super::*;

/// A histogram as `from_point` would make it.
pub fn histogram(scale: i32, offset: i32, counts: &[u64], zeros: u64) -> Exponential {
    let count = zeros + counts.iter().sum::<u64>();
    Exponential::from_point(&ExponentialPoint {
        header: crate::event::PointHeader {
            attributes: std::sync::Arc::from(Vec::new()),
            start_time_unix_nano: 0,
            time_unix_nano: 0,
        },
        count,
        sum: 1.0,
        scale,
        zero_count: zeros,
        offset,
        bucket_counts: counts.to_vec(),
    })
}

#[test]
fn downscaling_merges_neighbours_and_keeps_every_count() {
    let mut h = histogram(2, -5, &[1, 2, 3, 4, 5], 1);
    h.downscale(1);
    // -5>>1=-3, -4>>1=-2, -3>>1=-2, -2>>1=-1, -1>>1=-1
    assert_eq!(
        (h.scale, h.offset, h.counts.clone()),
        (1, -3, vec![1, 5, 9])
    );
    assert_eq!(h.count_through(i32::MAX), 16);
    h.downscale(3);
    assert_eq!(h.scale, 1, "raising the scale is not possible");
}

#[test]
fn far_apart_deltas_stay_within_the_bucket_limit() {
    let mut h = histogram(2, -100, &[1], 0);
    h.add(&histogram(2, 1_000_000, &[2], 0));
    assert!(h.counts.len() <= MAX_BUCKETS, "{} buckets", h.counts.len());
    assert_eq!((h.count, h.counts.iter().sum::<u64>()), (3, 3));
    let (lo, hi) = h.range().unwrap();
    assert!(upper_edge(h.scale, lo) >= upper_edge(2, -100));
    assert!(upper_edge(h.scale, hi) >= upper_edge(2, 1_000_000));
}

#[test]
fn a_point_spanning_too_much_is_downscaled_on_the_way_in() {
    let mut counts = vec![0u64; 1000];
    counts[0] = 1;
    counts[999] = 1;
    let h = histogram(2, 0, &counts, 0);
    assert!(h.counts.len() <= MAX_BUCKETS);
    assert_eq!(h.counts.iter().sum::<u64>(), 2);
}

#[test]
fn edges_are_the_powers_of_the_base() {
    assert_eq!(upper_edge(0, 0), 2.0);
    assert_eq!(upper_edge(2, -5), 2f64.powf(-1.0));
    assert_eq!(upper_edge(2, -45), 2f64.powi(-11));
}

#[test]
fn corrupt_points_do_not_overflow() {
    for (scale, offset) in [
        (i32::MIN, i32::MAX),
        (i32::MAX, i32::MIN),
        (2, i32::MAX - 1),
    ] {
        let mut h = histogram(scale, offset, &[1, 2, 3], 1);
        assert!(h.counts.len() <= MAX_BUCKETS);
        let (lo, hi) = h.range().unwrap_or((0, 0));
        assert!(lo <= hi);
        h.add(&histogram(2, i32::MIN, &[4], 0));
        assert_eq!(
            h.count_through(i32::MAX),
            h.zero_count + h.counts.iter().sum::<u64>()
        );
    }
}
