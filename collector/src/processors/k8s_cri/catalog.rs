//! The containers the CRI task knows, and the read-only snapshot of them that the event
//! path consults. The catalog is owned by the CRI task; the event path only ever sees a
//! [`Snapshot`] (one `Arc` clone per batch, lookups without locks).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::event::Workload;

/// What the event path consults: cgroup id -> workload and container id -> workload.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Workloads by cgroup v2 id.
    pub by_cgroup: HashMap<u64, Arc<Workload>>,
    /// Workloads by container id.
    pub by_container: HashMap<String, Arc<Workload>>,
}

/// The snapshot shared between the CRI task (writer) and the event path (readers).
#[derive(Debug, Default)]
pub struct SharedSnapshot(RwLock<Arc<Snapshot>>);

impl SharedSnapshot {
    /// The current snapshot.
    pub fn current(&self) -> Arc<Snapshot> {
        self.0.read().map(|s| Arc::clone(&s)).unwrap_or_default()
    }

    /// Replaces the snapshot.
    pub fn publish(&self, snapshot: Snapshot) {
        if let Ok(mut current) = self.0.write() {
            *current = Arc::new(snapshot);
        }
    }
}

/// One known container.
#[derive(Clone, Debug)]
struct Entry {
    workload: Arc<Workload>,
    cgroup_id: Option<u64>,
    /// When it exited or disappeared from the runtime's list; `None` while alive.
    gone_since: Option<Instant>,
}

/// The CRI task's view of the node's containers, bounded.
#[derive(Debug)]
pub struct Catalog {
    entries: HashMap<String, Entry>,
    grace: Duration,
    max: usize,
    /// Cgroup ids claimed by two containers: never attributed.
    conflicts: Vec<u64>,
    /// Cgroup ids learned for containers not described yet, oldest first (bounded by
    /// `max`): applied when the runtime describes them.
    births: VecDeque<(String, u64)>,
    /// Containers whose grace period ended while the runtime still lists them (kubelet
    /// keeps exited containers until their pod goes): not described or cached again.
    expired: HashSet<String>,
}

/// What a catalog update changed that needs counting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Housekeeping {
    /// Entries removed before their grace period ended, to respect the bound.
    pub evicted: u64,
    /// Cgroup ids found claimed by two containers (neither is attributed).
    pub conflicts: u64,
}

impl Catalog {
    /// An empty catalog keeping gone containers for `grace`, at most `max` entries.
    pub fn new(grace: Duration, max: usize) -> Self {
        Self {
            entries: HashMap::new(),
            grace,
            max: max.max(1),
            conflicts: Vec::new(),
            births: VecDeque::new(),
            expired: HashSet::new(),
        }
    }

    /// Number of containers known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is known.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when `id` is known with liveness `alive` and, if alive, with a cgroup id: a
    /// resync need not ask the runtime about it again. An exited container whose grace
    /// period is over stays settled while it is listed.
    pub fn is_settled(&self, id: &str, alive: bool) -> bool {
        if !alive && self.expired.contains(id) {
            return true;
        }
        self.entries
            .get(id)
            .is_some_and(|e| e.gone_since.is_none() == alive && (e.cgroup_id.is_some() || !alive))
    }

    /// The cgroup id recorded for `id`.
    pub fn cgroup_id(&self, id: &str) -> Option<u64> {
        self.entries.get(id).and_then(|e| e.cgroup_id)
    }

    /// Records what the runtime says of container `id`. A known cgroup id is kept when
    /// the new answer has none (an exited container's cgroup directory is gone).
    pub fn upsert(
        &mut self,
        id: &str,
        workload: Arc<Workload>,
        cgroup_id: Option<u64>,
        alive: bool,
        now: Instant,
    ) {
        if alive {
            self.expired.remove(id);
        }
        let previous = self.entries.get(id);
        let born = self
            .births
            .iter()
            .position(|(born, _)| born == id)
            .and_then(|at| self.births.remove(at))
            .map(|(_, cgroup)| cgroup);
        let cgroup_id = cgroup_id
            .or_else(|| previous.and_then(|e| e.cgroup_id))
            .or(born);
        let gone_since = match (alive, previous.and_then(|e| e.gone_since)) {
            (true, _) => None,
            (false, Some(since)) => Some(since),
            (false, None) => Some(now),
        };
        self.entries.insert(
            id.to_string(),
            Entry {
                workload,
                cgroup_id,
                gone_since,
            },
        );
    }

    /// Records a cgroup id proved for container `id` (by a live process's
    /// `/proc/<pid>/cgroup`, or by the container's cgroup directory as it was created).
    /// For a container not described yet it is kept until the runtime describes it.
    /// Returns true when the container is already known.
    pub fn learn_cgroup(&mut self, id: &str, cgroup_id: u64) -> bool {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.cgroup_id.get_or_insert(cgroup_id);
            return true;
        }
        if !self.births.iter().any(|(born, _)| born == id) {
            if self.births.len() >= self.max {
                self.births.pop_front();
            }
            self.births.push_back((id.to_string(), cgroup_id));
        }
        false
    }

    /// Marks every container not in `listed` as gone (it was removed from the runtime).
    /// `listed` must be the runtime's complete list.
    pub fn keep_listed(&mut self, listed: &dyn Fn(&str) -> bool, now: Instant) {
        for (id, entry) in &mut self.entries {
            if !listed(id) && entry.gone_since.is_none() {
                entry.gone_since = Some(now);
            }
        }
        self.expired.retain(|id| listed(id));
    }

    /// Marks container `id` gone.
    pub fn mark_gone(&mut self, id: &str, now: Instant) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.gone_since.get_or_insert(now);
        }
    }

    /// Drops containers gone for longer than the grace period, then the longest-gone
    /// ones (and, if still needed, any) until the bound holds; returns what to count.
    pub fn expire(&mut self, now: Instant) -> Housekeeping {
        let grace = self.grace;
        let mut ended = Vec::new();
        self.entries.retain(|id, e| {
            let keep = e
                .gone_since
                .is_none_or(|since| now.duration_since(since) < grace);
            if !keep {
                ended.push(id.clone());
            }
            keep
        });
        let mut housekeeping = Housekeeping::default();
        if self.entries.len() > self.max {
            let mut by_age: Vec<(Option<Instant>, String)> = self
                .entries
                .iter()
                .map(|(id, e)| (e.gone_since, id.clone()))
                .collect();
            // Gone ones first, oldest first; live ones last.
            by_age.sort_by_key(|(since, _)| (since.is_none(), *since));
            let excess = self.entries.len() - self.max;
            for (since, id) in by_age.into_iter().take(excess) {
                self.entries.remove(&id);
                housekeeping.evicted += 1;
                if since.is_some() {
                    ended.push(id);
                }
            }
        }
        for id in ended {
            if self.expired.len() < self.max {
                self.expired.insert(id);
            }
        }
        housekeeping
    }

    /// The snapshot of the current entries. A cgroup id claimed by two containers maps
    /// to neither (counted once as a conflict the first time it is seen).
    pub fn snapshot(&mut self) -> (Snapshot, Housekeeping) {
        let mut snapshot = Snapshot::default();
        let mut claimed: HashMap<u64, usize> = HashMap::new();
        for (id, entry) in &self.entries {
            snapshot
                .by_container
                .insert(id.clone(), Arc::clone(&entry.workload));
            if let Some(cgroup) = entry.cgroup_id {
                *claimed.entry(cgroup).or_default() += 1;
                snapshot
                    .by_cgroup
                    .insert(cgroup, Arc::clone(&entry.workload));
            }
        }
        let mut housekeeping = Housekeeping::default();
        for (cgroup, claims) in claimed {
            if claims > 1 {
                snapshot.by_cgroup.remove(&cgroup);
                if !self.conflicts.contains(&cgroup) {
                    self.conflicts.push(cgroup);
                    housekeeping.conflicts += 1;
                }
            }
        }
        (snapshot, housekeeping)
    }
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
