//! Events held back while the runtime describes their container: bounded in count and
//! time, released in arrival order per cgroup.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::event::Event;

/// What a held event waits for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Awaited {
    /// The runtime to describe this container (its process proved the container).
    Container(String),
    /// A resync to find the container of this cgroup id (its process is already gone).
    Cgroup(u64),
}

/// One held event.
struct Held {
    event: Event,
    cgroup_id: u64,
    awaited: Awaited,
    deadline: Instant,
}

/// The hold queue.
pub struct Hold {
    items: VecDeque<Held>,
    per_cgroup: HashMap<u64, usize>,
    hold: Duration,
    max: usize,
}

/// Why an event left the hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Its container is now described.
    Described,
    /// Its hold time ran out.
    Expired,
    /// The runtime is draining the processor.
    Shutdown,
}

impl Hold {
    /// A hold keeping events at most `hold`, at most `max` of them.
    pub fn new(hold: Duration, max: usize) -> Self {
        Self {
            items: VecDeque::new(),
            per_cgroup: HashMap::new(),
            hold,
            max,
        }
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// True when holding is switched on (`hold` > 0).
    pub fn enabled(&self) -> bool {
        !self.hold.is_zero()
    }

    /// True when events of `cgroup_id` are held: later ones must queue behind them.
    pub fn holds_cgroup(&self, cgroup_id: u64) -> bool {
        self.per_cgroup.contains_key(&cgroup_id)
    }

    /// What held events of `cgroup_id` wait for.
    pub fn awaited(&self, cgroup_id: u64) -> Option<&Awaited> {
        if !self.holds_cgroup(cgroup_id) {
            return None;
        }
        self.items
            .iter()
            .find(|h| h.cgroup_id == cgroup_id)
            .map(|h| &h.awaited)
    }

    /// What the held events wait for, each once.
    pub fn awaiting(&self) -> Vec<Awaited> {
        let mut all: Vec<Awaited> = Vec::new();
        for held in &self.items {
            if !all.contains(&held.awaited) {
                all.push(held.awaited.clone());
            }
        }
        all
    }

    /// Holds `event` until what it `awaits` is known or the hold time passes. Gives the
    /// event back (`Some`) when the hold is full or switched off.
    pub fn push(
        &mut self,
        event: Event,
        cgroup_id: u64,
        awaited: Awaited,
        now: Instant,
    ) -> Option<Event> {
        if self.items.len() >= self.max || !self.enabled() {
            return Some(event);
        }
        *self.per_cgroup.entry(cgroup_id).or_default() += 1;
        self.items.push_back(Held {
            event,
            cgroup_id,
            awaited,
            deadline: now + self.hold,
        });
        None
    }

    /// The earliest deadline of a held event.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.items.iter().map(|h| h.deadline).min()
    }

    /// Removes and returns, in arrival order, the held events that may go: those whose
    /// awaited answer `is_known`, those past their deadline, or all of them when `drain`.
    /// Each comes with the reason it left and what it waited for.
    pub fn take(
        &mut self,
        now: Instant,
        drain: bool,
        is_known: &dyn Fn(&Awaited) -> bool,
    ) -> Vec<(Event, Exit, Awaited)> {
        let mut out = Vec::new();
        let mut kept = VecDeque::with_capacity(self.items.len());
        for held in self.items.drain(..) {
            let exit = if is_known(&held.awaited) {
                Some(Exit::Described)
            } else if drain {
                Some(Exit::Shutdown)
            } else if held.deadline <= now {
                Some(Exit::Expired)
            } else {
                None
            };
            match exit {
                Some(exit) => {
                    if let Some(n) = self.per_cgroup.get_mut(&held.cgroup_id) {
                        *n -= 1;
                        if *n == 0 {
                            self.per_cgroup.remove(&held.cgroup_id);
                        }
                    }
                    out.push((held.event, exit, held.awaited));
                }
                None => kept.push_back(held),
            }
        }
        self.items = kept;
        out
    }
}

#[cfg(test)]
#[path = "hold_tests.rs"]
mod tests;
