//! The `k8s_cri` processor on the event path: attributes each event from the snapshot,
//! holds back (briefly, boundedly) events of containers not described yet, and asks the
//! CRI task for what it lacks without ever waiting for it.
//!
//! Held events leave in their original order. When the hold is full, an event passes at
//! once with node attributes (counted as `overflow`) and may overtake held events of its
//! own cgroup: bounded memory wins over order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::component::{Processor, Release};
use crate::event::{Batch, Origin, Workload};
use crate::processors::k8s_cri::catalog::Snapshot;
use crate::processors::k8s_cri::events::hold::{Awaited, Exit, Hold};
use crate::processors::k8s_cri::events::resolver::{Resolution, Resolver};
use crate::processors::k8s_cri::metrics::CriMetrics;
use crate::processors::k8s_cri::request::Request;
use crate::processors::k8s_cri::service::CriService;

/// While events are held, how often the runtime lets the processor check whether their
/// containers have been described.
const HELD_POLL: Duration = Duration::from_millis(10);
/// How often the same container is asked for at most.
const ASK_AGAIN: Duration = Duration::from_millis(250);

/// One pipeline's instance of a `k8s_cri` processor.
pub struct K8sCriProcessor {
    service: Arc<CriService>,
    resolver: Resolver,
    hold: Hold,
    asked: HashMap<String, Instant>,
}

impl K8sCriProcessor {
    /// An instance attached to `service` (shared by every pipeline listing the id).
    pub fn new(service: Arc<CriService>) -> Self {
        let config = service.config();
        Self {
            resolver: Resolver::new(
                config.on_host("/proc"),
                service.roots().clone(),
                service.born().cloned(),
            ),
            hold: Hold::new(config.hold, config.hold_max_events),
            asked: HashMap::new(),
            service,
        }
    }

    fn metrics(&self) -> &CriMetrics {
        self.service.metrics()
    }
}

impl Processor for K8sCriProcessor {
    fn process(&mut self, mut batch: Batch) -> Batch {
        let snapshot = self.service.snapshot();
        let now = Instant::now();
        let host = self.service.host().clone();
        // In place: only the rare held event is copied out of the batch.
        batch.retain_mut(|event| {
            let Some(origin) = event.origin() else {
                return true;
            };
            if origin.cgroup_id == 0 {
                // The source could not tell whose it is (e.g. a listener opened before
                // it attached): node attributes only.
                self.metrics().no_cgroup.increment(1);
                event.set_workload(host.clone());
                return true;
            }
            let awaited = match self.hold.awaited(origin.cgroup_id) {
                // Later events of a held cgroup queue behind the earlier ones.
                Some(awaited) => {
                    self.metrics().pending.increment(1);
                    awaited.clone()
                }
                None => match self.attribution(&snapshot, origin, now, &host) {
                    Ok(workload) => {
                        event.set_workload(workload);
                        return true;
                    }
                    Err(awaited) => awaited,
                },
            };
            let enabled = self.hold.enabled();
            if self
                .hold
                .push(event.clone(), origin.cgroup_id, awaited, now)
                .is_none()
            {
                return false;
            }
            if enabled {
                self.metrics().held_overflow.increment(1);
            }
            event.set_workload(host.clone());
            true
        });
        self.asked
            .retain(|_, at| now.duration_since(*at) < ASK_AGAIN);
        batch
    }

    fn held(&self) -> usize {
        self.hold.len()
    }

    fn next_release(&self) -> Option<Instant> {
        let deadline = self.hold.next_deadline()?;
        Some(deadline.min(Instant::now() + HELD_POLL))
    }

    fn release(&mut self, which: Release) -> Batch {
        let snapshot = self.service.snapshot();
        let (now, drain) = match which {
            Release::Due(now) => (now, false),
            Release::All => (Instant::now(), true),
        };
        let known = |awaited: &Awaited| snapshot_workload(&snapshot, awaited).is_some();
        let taken = self.hold.take(now, drain, &known);
        self.ask_again_for_held(now);
        let host = self.service.host();
        let metrics = self.service.metrics();
        taken
            .into_iter()
            .map(|(mut event, exit, awaited)| {
                match (exit, snapshot_workload(&snapshot, &awaited)) {
                    (Exit::Described, Some(workload)) => {
                        metrics.held_attributed.increment(1);
                        event.set_workload(workload.clone());
                    }
                    (Exit::Shutdown, _) => {
                        metrics.held_shutdown.increment(1);
                        event.set_workload(host.clone());
                    }
                    _ => {
                        metrics.held_expired.increment(1);
                        event.set_workload(host.clone());
                    }
                }
                event
            })
            .collect()
    }
}

impl K8sCriProcessor {
    /// Asks again (at most every [`ASK_AGAIN`]) for what still-held events wait for: the
    /// runtime may not have known a container the first time it was asked.
    fn ask_again_for_held(&mut self, now: Instant) {
        self.asked
            .retain(|_, at| now.duration_since(*at) < ASK_AGAIN);
        for awaited in self.hold.awaiting() {
            let request = match awaited {
                Awaited::Container(id) => Request::Describe(id.clone()),
                Awaited::Cgroup(_) => Request::Resync,
            };
            ask(&self.service, &mut self.asked, request, now);
        }
    }

    /// The workload of `origin` now (counted as hit, host or miss), or what to wait for
    /// (counted as pending).
    fn attribution(
        &mut self,
        snapshot: &Snapshot,
        origin: Origin,
        now: Instant,
        host: &Arc<Workload>,
    ) -> Result<Arc<Workload>, Awaited> {
        let service = &self.service;
        let asked = &mut self.asked;
        let mut request = |r: Request| ask(service, asked, r, now);
        let metrics = self.service.metrics();
        match self.resolver.resolve(snapshot, origin, now, &mut request) {
            Resolution::Container(workload) => {
                metrics.hit.increment(1);
                Ok(workload)
            }
            Resolution::Host => {
                metrics.host.increment(1);
                Ok(host.clone())
            }
            Resolution::Unknown => {
                metrics.miss.increment(1);
                Ok(host.clone())
            }
            Resolution::Pending(awaited) => {
                metrics.pending.increment(1);
                Err(awaited)
            }
        }
    }
}

/// The workload `awaited` is now known as, if it is.
fn snapshot_workload<'a>(snapshot: &'a Snapshot, awaited: &Awaited) -> Option<&'a Arc<Workload>> {
    match awaited {
        Awaited::Container(id) => snapshot.by_container.get(id),
        Awaited::Cgroup(cgroup_id) => snapshot.by_cgroup.get(cgroup_id),
    }
}

/// Hands `request` to the CRI task without waiting; asks for the same container (or a
/// resync) at most every [`ASK_AGAIN`].
fn ask(service: &CriService, asked: &mut HashMap<String, Instant>, request: Request, now: Instant) {
    let key = match &request {
        Request::Describe(id) => Some(id.as_str()),
        Request::Resync => Some("resync"),
        Request::Learned { .. } => None,
    };
    if let Some(key) = key {
        if asked.contains_key(key) {
            return;
        }
        asked.insert(key.to_string(), now);
    }
    if let Err(mpsc::error::TrySendError::Full(_)) = service.requests().try_send(request) {
        service.metrics().requests_dropped.increment(1);
    }
}
