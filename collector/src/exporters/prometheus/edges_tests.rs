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
