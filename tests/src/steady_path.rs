//! The steady event path of the default metrics pipeline, driven directly on the calling
//! thread: `k8s_cri` (its cache warm, see [`crate::warm_cri`]) then `aggregate`, exactly
//! as the runtime chains them, minus channels and exporters.

use std::sync::Arc;

use kotel::component::Processor;
use kotel::event::Batch;
use kotel::processors::aggregate::{AggregateConfig, AggregateProcessor};
use kotel::processors::k8s_cri::{CriService, K8sCriProcessor};

use crate::alloc_count::count_allocations;

/// `k8s_cri` then `aggregate`.
pub struct SteadyPath {
    /// The enrichment stage.
    pub k8s_cri: K8sCriProcessor,
    /// The aggregation stage.
    pub aggregate: AggregateProcessor,
}

impl SteadyPath {
    /// Both processors, `k8s_cri` attached to `service`, `aggregate` as configured.
    pub fn new(service: Arc<CriService>, aggregate: &AggregateConfig) -> Self {
        Self {
            k8s_cri: K8sCriProcessor::new(service),
            aggregate: AggregateProcessor::new("aggregate/steady", aggregate),
        }
    }

    /// One batch through both stages; what `aggregate` passes on (nothing, for the
    /// events it aggregates).
    pub fn process(&mut self, batch: Batch) -> Batch {
        let enriched = self.k8s_cri.process(batch);
        self.aggregate.process(enriched)
    }

    /// Runs every batch through both stages and returns the allocations this thread
    /// made doing so (the batches themselves are made before counting starts). Panics if
    /// `k8s_cri` held an event back or `aggregate` passed one on: the path was not
    /// steady.
    pub fn count_allocations(&mut self, batches: Vec<Batch>) -> u64 {
        let (passed, allocations) = count_allocations(|| {
            batches
                .into_iter()
                .map(|batch| self.process(batch).len())
                .sum::<usize>()
        });
        assert_eq!(self.k8s_cri.held(), 0, "k8s_cri held events back");
        assert_eq!(passed, 0, "aggregate passed events on");
        allocations
    }
}
