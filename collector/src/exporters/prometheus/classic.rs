//! Histogram series as classic `le` buckets, the form a text scrape (and a Prometheus
//! without native histograms) reads.
//!
//! Contract: every histogram series of a family shows the same finite edges, ascending,
//! then `+Inf`, with cumulative counts that never decrease and end at the series' count.
//! So `sum by (le)` across pods, nodes or time adds like with like and
//! `histogram_quantile` lands in the right bucket. Exponential series use the fixed
//! [`EdgeSet`](super::edges::EdgeSet) (the same on every node); explicit series use the
//! union of their family's bounds (the instrument's, the same on every node).

use crate::event::{Attributes, Exemplar};
use crate::exporters::prometheus::edges::EdgeSet;
use crate::exporters::prometheus::state::{Family, SeriesValue};

/// One histogram series in classic form.
#[derive(Clone, Debug, PartialEq)]
pub struct Classic {
    /// `(upper edge, cumulative count)`, ascending, the last edge `+Inf`.
    pub buckets: Vec<(f64, u64)>,
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The exemplar of each bucket, where it has one (as many as `buckets`).
    pub exemplars: Vec<Option<Exemplar>>,
}

/// The classic form of every histogram series of `family` (counters and gauges are skipped).
pub fn histograms(family: &Family) -> Vec<(&Attributes, Classic)> {
    let explicit_edges = explicit_edges(family);
    let exponential = family.edges().map(|set| (set, set.edges()));
    family
        .series
        .iter()
        .filter_map(|(attributes, (value, _))| {
            let (edges, cumulative, count, sum, exemplars) = match value {
                SeriesValue::Number(_) => return None,
                SeriesValue::Exponential(h) => {
                    let (set, edges): &(EdgeSet, Vec<f64>) = exponential.as_ref()?;
                    (edges.clone(), set.cumulative(h), h.count, h.sum, &[][..])
                }
                SeriesValue::Buckets {
                    buckets,
                    count,
                    sum,
                    exemplars,
                } => {
                    let cumulative = explicit_edges
                        .iter()
                        .map(|edge| {
                            buckets
                                .iter()
                                .filter(|(bound, _)| bound <= edge)
                                .map(|(_, n)| n)
                                .sum()
                        })
                        .collect();
                    (
                        explicit_edges.clone(),
                        cumulative,
                        *count,
                        *sum,
                        &exemplars[..],
                    )
                }
            };
            let mut buckets: Vec<(f64, u64)> = edges.into_iter().zip(cumulative).collect();
            buckets.push((f64::INFINITY, count));
            let mut by_bucket = vec![None; buckets.len()];
            for e in exemplars {
                if let Some(at) = buckets.iter().position(|(edge, _)| e.value <= *edge) {
                    by_bucket[at] = Some(*e);
                }
            }
            Some((
                attributes,
                Classic {
                    buckets,
                    count,
                    sum,
                    exemplars: by_bucket,
                },
            ))
        })
        .collect()
}

/// The finite bounds of every explicit series of `family`, ascending, each once.
fn explicit_edges(family: &Family) -> Vec<f64> {
    let mut edges: Vec<f64> = family
        .series
        .values()
        .filter_map(|(value, _)| match value {
            SeriesValue::Buckets { buckets, .. } => Some(buckets),
            _ => None,
        })
        .flatten()
        .map(|(bound, _)| *bound)
        .filter(|bound| bound.is_finite())
        .collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    edges
}
