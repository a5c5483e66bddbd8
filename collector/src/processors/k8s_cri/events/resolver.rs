//! The event path's lookup: which workload an event's cgroup id (or, failing that, its
//! process) belongs to. It never calls the runtime; it reads the CRI task's snapshot,
//! falls back to `/proc/<pid>/cgroup` for cgroup ids the snapshot does not know, and
//! remembers what it proved.
//!
//! What is proved and remembered by cgroup id: a live process whose unified cgroup
//! directory has the event's cgroup id (the directory's inode) and whose path names a
//! container (or names none: a host cgroup). Cgroup ids are never reused while the
//! kernel runs, so the answer holds for good. Anything unproved (the process is gone,
//! it moved, the layout has no unified hierarchy for containers) is answered per pid for
//! a short time and never attributed to a container it does not name.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::Origin;
use crate::node::cgroups::{cgroup_id, CgroupRoots};
use crate::processors::k8s_cri::births::BornCgroups;
use crate::processors::k8s_cri::catalog::Snapshot;
use crate::processors::k8s_cri::cgroup::{container_id_in_path, ProcCgroup};
use crate::processors::k8s_cri::events::hold::Awaited;
use crate::processors::k8s_cri::request::Request;

/// How long an answer by pid (not by cgroup id) is reused; pids are recycled.
const PID_ANSWER_TTL: Duration = Duration::from_secs(1);
/// How long a cgroup id nothing could be proved about is not looked up again.
const UNRESOLVED_TTL: Duration = Duration::from_secs(1);
/// Most cgroup ids and pids remembered; the memory is cleared when it is exceeded.
const MAX_REMEMBERED: usize = 65_536;

/// Where an event belongs.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    /// A described container.
    Container(std::sync::Arc<crate::event::Workload>),
    /// A host process.
    Host,
    /// A container the CRI task has not described yet, or a cgroup whose process left
    /// before it could be looked at (a resync may still find its container).
    Pending(Awaited),
    /// Nothing could be proved.
    Unknown,
}

/// What a cgroup id or pid was found to be.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Finding {
    Host,
    Container(String),
    Unresolved,
    /// The process is gone: not remembered, the next event looks again.
    Vanished,
}

/// The event path's resolver (one per processor instance; not shared).
pub struct Resolver {
    proc_root: PathBuf,
    roots: CgroupRoots,
    born: Option<Arc<BornCgroups>>,
    by_cgroup: HashMap<u64, (Finding, Instant)>,
    by_pid: HashMap<u32, (Finding, Instant)>,
}

impl Resolver {
    /// A resolver reading `/proc` at `proc_root` and cgroup directories under `roots`,
    /// consulting `born` (container cgroups seen as they were created) when it is given.
    pub fn new(proc_root: PathBuf, roots: CgroupRoots, born: Option<Arc<BornCgroups>>) -> Self {
        Self {
            proc_root,
            roots,
            born,
            by_cgroup: HashMap::new(),
            by_pid: HashMap::new(),
        }
    }

    /// Resolves `origin` against `snapshot`. `request` receives what the CRI task should
    /// learn or fetch; it must not block.
    pub fn resolve(
        &mut self,
        snapshot: &Snapshot,
        origin: Origin,
        now: Instant,
        request: &mut dyn FnMut(Request),
    ) -> Resolution {
        if let Some(workload) = snapshot.by_cgroup.get(&origin.cgroup_id) {
            return Resolution::Container(workload.clone());
        }
        let finding = match self.remembered(origin, now) {
            Some(finding) => finding,
            None => self.find(origin, now, request),
        };
        let finding = match finding {
            // A container cgroup born while watched is known without its process; a
            // cgroup that was not born under the container subtrees is not a container.
            Finding::Vanished => match &self.born {
                Some(born) => born
                    .container_of(origin.cgroup_id)
                    .map_or(Finding::Unresolved, Finding::Container),
                None => Finding::Vanished,
            },
            finding => finding,
        };
        match finding {
            Finding::Host => Resolution::Host,
            Finding::Unresolved => Resolution::Unknown,
            Finding::Vanished => {
                request(Request::Resync);
                Resolution::Pending(Awaited::Cgroup(origin.cgroup_id))
            }
            Finding::Container(id) => match snapshot.by_container.get(&id) {
                Some(workload) => Resolution::Container(workload.clone()),
                None => {
                    request(Request::Describe(id.clone()));
                    Resolution::Pending(Awaited::Container(id))
                }
            },
        }
    }

    fn remembered(&self, origin: Origin, now: Instant) -> Option<Finding> {
        match self.by_cgroup.get(&origin.cgroup_id) {
            Some((Finding::Unresolved, at)) if now.duration_since(*at) >= UNRESOLVED_TTL => {}
            Some((finding, _)) => return Some(finding.clone()),
            None => {}
        }
        match self.by_pid.get(&origin.pid) {
            Some((finding, at)) if origin.pid != 0 && now.duration_since(*at) < PID_ANSWER_TTL => {
                Some(finding.clone())
            }
            _ => None,
        }
    }

    /// Looks at the event's process and remembers the finding.
    fn find(&mut self, origin: Origin, now: Instant, request: &mut dyn FnMut(Request)) -> Finding {
        if let Some(id) = self
            .born
            .as_ref()
            .and_then(|b| b.container_of(origin.cgroup_id))
        {
            remember(
                &mut self.by_cgroup,
                origin.cgroup_id,
                Finding::Container(id.clone()),
                now,
            );
            return Finding::Container(id);
        }
        if origin.pid == 0 {
            return Finding::Unresolved;
        }
        let Ok(proc) = ProcCgroup::read(&self.proc_root, origin.pid) else {
            return Finding::Vanished;
        };
        let proved_unified = proc
            .unified
            .as_deref()
            .filter(|path| self.unified_id(path) == Some(origin.cgroup_id));
        if let Some(path) = proved_unified {
            let finding = match container_id_in_path(path) {
                Some(id) => {
                    request(Request::Learned {
                        container_id: id.to_string(),
                        cgroup_id: origin.cgroup_id,
                    });
                    Finding::Container(id.to_string())
                }
                None if proc.container_path().is_none() => Finding::Host,
                // The unified cgroup is shared (a runtime that does not create unified
                // directories); the v1 path names the container: answer per pid.
                None => return self.by_pid_answer(&proc, origin.pid, now),
            };
            remember(&mut self.by_cgroup, origin.cgroup_id, finding.clone(), now);
            return finding;
        }
        if self.roots.unified.is_some() && proc.unified.is_some() {
            // The process has left the event's cgroup since: nothing is proved.
            return Finding::Unresolved;
        }
        self.by_pid_answer(&proc, origin.pid, now)
    }

    /// The answer by pid for layouts where the cgroup id does not identify containers.
    fn by_pid_answer(&mut self, proc: &ProcCgroup, pid: u32, now: Instant) -> Finding {
        let finding = match proc.container_path().and_then(container_id_in_path) {
            Some(id) => Finding::Container(id.to_string()),
            None => Finding::Host,
        };
        remember(&mut self.by_pid, pid, finding.clone(), now);
        finding
    }

    /// The cgroup id of unified path `path`.
    fn unified_id(&self, path: &str) -> Option<u64> {
        let dir = self.roots.unified.as_ref()?.dir(path)?;
        cgroup_id(&dir).ok()
    }
}

fn remember<K: std::hash::Hash + Eq>(
    memory: &mut HashMap<K, (Finding, Instant)>,
    key: K,
    finding: Finding,
    now: Instant,
) {
    if memory.len() >= MAX_REMEMBERED {
        memory.clear();
    }
    memory.insert(key, (finding, now));
}

#[cfg(test)]
#[path = "resolver_tests.rs"]
mod tests;
