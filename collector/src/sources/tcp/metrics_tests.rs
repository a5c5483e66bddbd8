//! Bucket math of the kernel histograms (the table and search the kernel runs, from
//! `kotel_common`) and the conversion of map entries into records.

use kotel_common::tcp_quality::{
    metric, row_home, slot_of_ns, CounterKey, CounterValue, HistRow, MAX_INDEX, MIN_INDEX, SCALE,
    SLOTS, UPPER_NS, ZERO_SLOT,
};

use super::{counters_from, histograms_from, Interval};
use crate::event::{CgroupHistogram, HistogramMetric, TcpCounters};

/// OTLP index of a value in ns, as the kernel computes it.
fn index(ns: u64) -> i32 {
    MIN_INDEX + i32::from(slot_of_ns(ns))
}

#[test]
fn known_values_land_in_their_otlp_buckets_boundaries_included() {
    assert_eq!(SCALE, 2);
    // 1 s is the upper bound of bucket -1: (2^-0.25, 1] s.
    assert_eq!(index(1_000_000_000), -1);
    assert_eq!(index(1_000_000_001), 0);
    // 2^(1/4) s = 1_189_207_115.002 ns: the last ns of bucket 0 is 1_189_207_115.
    assert_eq!(index(1_189_207_115), 0);
    assert_eq!(index(1_189_207_116), 1);
    // 1 ms = 2^-9.966 s: bucket ceil(-39.86) - 1 = -40; 2^-10 s = 976_562.5 ns.
    assert_eq!(index(1_000_000), -40);
    assert_eq!(index(976_562), -41);
    assert_eq!(index(976_563), -40);
    // 0.5 s = 2^-1 s exactly is the upper bound of bucket -5.
    assert_eq!(index(500_000_000), -5);
    assert_eq!(index(500_000_001), -4);
    // Range ends: (2^-24, 2^-23.75] s = (59.6, 70.9] ns is the first bucket, and smaller
    // values count there too; 1024 s ends the last; beyond it clamps.
    assert_eq!(index(60), MIN_INDEX);
    assert_eq!(index(70), MIN_INDEX);
    assert_eq!(index(71), MIN_INDEX + 1);
    assert_eq!(index(1), MIN_INDEX, "clamped");
    assert_eq!(
        index(125),
        -92,
        "the kernel's smallest RTT: 1/8 µs = 2^-22.9 s"
    );
    assert_eq!(index(1_024_000_000_000), MAX_INDEX);
    assert_eq!(index(1_024_000_000_001), MAX_INDEX, "clamped");
    assert_eq!(index(u64::MAX), MAX_INDEX, "clamped");
    assert_eq!(slot_of_ns(0), ZERO_SLOT);
}

#[test]
fn the_table_is_floor_of_the_exact_boundaries() {
    assert_eq!(UPPER_NS.len(), SLOTS);
    assert!(UPPER_NS.windows(2).all(|w| w[0] < w[1]));
    for (s, upper) in UPPER_NS.iter().enumerate() {
        let k = MIN_INDEX + s as i32 + 1;
        let exact = 1e9 * 2f64.powf(f64::from(k) / 4.0);
        assert!(
            (exact - *upper as f64) >= -1e-6 && (exact - *upper as f64) < 1.0,
            "slot {s}: {upper} vs {exact}"
        );
        // No boundary sits so close above an integer that f64 rounding could flip it.
        let frac = exact - exact.floor();
        assert!(
            frac == 0.0 || (1e-3..1.0 - 1e-3).contains(&frac),
            "slot {s}: {exact}"
        );
    }
    assert_eq!(UPPER_NS[SLOTS - 1], 1_024_000_000_000);
}

#[test]
fn integer_buckets_agree_with_otlp_float_indexing_away_from_boundaries() {
    let mut v: u64 = 61;
    while v < 2_000_000_000_000 {
        let (lo, hi) = (index(v), CgroupHistogram::index_of(v as f64 / 1e9, SCALE));
        if v < 1_024_000_000_000 {
            assert_eq!(lo, hi, "{v} ns");
        }
        v = v * 7 / 5 + 1;
    }
}

fn interval() -> Interval {
    Interval {
        start_unix_nano: 1_700_000_000_000_000_000,
        end_unix_nano: 1_700_000_015_000_000_000,
    }
}

/// A row of `cgroup_id`'s `m` histogram holding `samples` (value in ns, count).
fn row(cgroup_id: u64, m: u32, samples: &[(u64, u32)]) -> HistRow {
    let mut r = HistRow {
        cgroup_id,
        metric: m,
        ..HistRow::FREE
    };
    for &(ns, n) in samples {
        match slot_of_ns(ns) {
            ZERO_SLOT => r.zero_count += n,
            s => r.counts[usize::from(s)] += n,
        }
        r.sum_ns += ns * u64::from(n);
    }
    r
}

#[test]
fn rows_become_one_histogram_per_cgroup_and_metric_summed_over_cpus() {
    let rows = vec![
        row(7, metric::RTT, &[(2_000_000, 1), (1_000_000, 3)]), // CPU 0
        row(7, metric::RTT, &[(1_000_000, 1)]),                 // CPU 1, same cgroup
        row(7, metric::CONNECT_LATENCY, &[(0, 2), (1_000_000, 1)]),
        HistRow::FREE,
        row(9, 99, &[(5, 5)]), // unknown metric: skipped
    ];
    let got = histograms_from(rows, interval());
    assert_eq!(got.len(), 2, "{got:#?}");
    let rtt = &got[0];
    assert_eq!(
        (rtt.metric, rtt.cgroup_id, rtt.scale),
        (HistogramMetric::TcpRtt, 7, 2)
    );
    assert_eq!(rtt.offset, -40);
    assert_eq!(
        rtt.bucket_counts,
        vec![4, 0, 0, 0, 1],
        "1 ms and 2 ms: 4 buckets apart"
    );
    assert_eq!((rtt.count, rtt.zero_count), (5, 0));
    assert!((rtt.sum - 0.006).abs() < 1e-12);
    assert_eq!(
        (rtt.start_time_unix_nano, rtt.time_unix_nano),
        (interval().start_unix_nano, interval().end_unix_nano)
    );
    assert_eq!(rtt.quantile_index(0.5), Some(-40));
    assert_eq!(rtt.quantile_index(1.0), Some(-36));
    let (lo, hi) = rtt.bucket_bounds(-40);
    assert!(lo < 0.001 && 0.001 <= hi && (hi / lo - 2f64.powf(0.25)).abs() < 1e-12);
    let latency = &got[1];
    assert_eq!(latency.metric, HistogramMetric::TcpConnectLatency);
    assert_eq!((latency.count, latency.zero_count), (3, 2));
    assert_eq!(
        (latency.offset, latency.bucket_counts.clone()),
        (-40, vec![1])
    );
    assert_eq!(latency.quantile_index(0.5), None, "the median is a zero");
}

#[test]
fn the_end_buckets_and_only_zeros_convert_too() {
    let got = histograms_from(
        [
            row(1, metric::RTT, &[(0, 4)]),
            row(2, metric::RTT, &[(1, 1), (u64::MAX / 4, 1)]),
            row(3, metric::RTT, &[]), // claimed, no samples left: nothing to emit
        ],
        interval(),
    );
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(
        (got[0].zero_count, got[0].count, got[0].bucket_counts.len()),
        (4, 4, 0)
    );
    assert_eq!(
        (got[1].offset, got[1].bucket_counts.len()),
        (MIN_INDEX, SLOTS)
    );
}

#[test]
fn probe_sequences_start_inside_the_rows() {
    for rows in [16, 512, 65_536] {
        for cgroup in [0, 1, 4242, u64::MAX] {
            for m in [metric::RTT, metric::CONNECT_LATENCY] {
                assert!(row_home(cgroup, m, rows) < rows);
            }
        }
    }
    assert_ne!(
        row_home(4242, metric::RTT, 512),
        row_home(4242, metric::CONNECT_LATENCY, 512),
        "a cgroup's two metrics start apart"
    );
}

#[test]
fn counter_entries_become_deltas_per_cgroup() {
    let k = |cgroup_id| CounterKey {
        cgroup_id,
        phase: 0,
        _pad: 0,
    };
    let v = |retransmits, resets_sent, resets_received| CounterValue {
        retransmits,
        resets_sent,
        resets_received,
    };
    let got = counters_from(
        [
            (k(3), v(2, 0, 1)),
            (k(3), v(1, 1, 0)),
            (k(0), v(0, 4, 0)),
            (k(5), v(0, 0, 0)),
        ],
        interval(),
    );
    let want = |cgroup_id, retransmits, resets_sent, resets_received| TcpCounters {
        workload: None,
        time_unix_nano: interval().end_unix_nano,
        interval_ns: 15_000_000_000,
        cgroup_id,
        retransmits,
        resets_sent,
        resets_received,
    };
    assert_eq!(got, vec![want(0, 0, 4, 0), want(3, 3, 1, 1)]);
}
