//! The attribute sets of series, made once per workload (and peer) and reused for every
//! later event of it, so that aggregating an event allocates nothing: looking up a set is
//! a hash of the workload's address, handing it out a reference count.
//!
//! A set's pairs are the configured workload attributes the workload has, then the peer
//! pairs when peer attributes are on, then the [`Extra`] pair of the metric, sorted by
//! key. Sets are cached per workload instance (the `Arc` that `k8s_cri` shares between
//! the events of one container: its attributes never change) and kept alive by the
//! cache, so an address is never mistaken for another workload's. Entries no event used
//! during a collection interval are forgotten at the next [`AttributeSets::sweep`]; at
//! most [`MAX_ENTRIES`] are kept (beyond it the cache starts over).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::event::{Direction, HttpEvent, Workload};
use crate::processors::aggregate::http_sets::HttpSets;
use crate::processors::aggregate::series_key::SeriesKey;

/// Most (workload, peer) entries cached.
pub const MAX_ENTRIES: usize = 65_536;

/// The metric-specific pair added to a set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// None.
    Plain,
    /// `direction` of a connection (who dialled).
    Direction(Direction),
    /// `network.io.direction=transmit`.
    Transmit,
    /// `network.io.direction=receive`.
    Receive,
    /// `direction=sent` (resets).
    Sent,
    /// `direction=received` (resets).
    Received,
}

/// Number of distinct [`Extra`] values.
const EXTRAS: usize = 8;

impl Extra {
    fn index(self) -> usize {
        match self {
            Extra::Plain => 0,
            Extra::Direction(Direction::Outbound) => 1,
            Extra::Direction(Direction::Inbound) => 2,
            Extra::Direction(Direction::Unknown) => 3,
            Extra::Transmit => 4,
            Extra::Receive => 5,
            Extra::Sent => 6,
            Extra::Received => 7,
        }
    }

    fn pair(self) -> Option<(&'static str, &'static str)> {
        match self {
            Extra::Plain => None,
            Extra::Direction(d) => Some(("direction", d.as_str())),
            Extra::Transmit => Some(("network.io.direction", "transmit")),
            Extra::Receive => Some(("network.io.direction", "receive")),
            Extra::Sent => Some(("direction", "sent")),
            Extra::Received => Some(("direction", "received")),
        }
    }
}

/// A connection's peer as its series see it: the remote address and the server port.
pub type PeerKey = (IpAddr, u16);

/// Cache key: the workload's address (0 for none) and the peer, if peer attributes are on.
type Key = (usize, Option<PeerKey>);

/// The cached sets of one (workload, peer).
pub struct Entry {
    /// Keeps the workload (and so its address) alive while the entry exists.
    _workload: Option<Arc<Workload>>,
    /// Workload and peer pairs, unsorted.
    base: Vec<(String, String)>,
    sets: [Option<SeriesKey>; EXTRAS],
    /// The sets of its HTTP request-duration series.
    http: HttpSets,
    used: bool,
}

impl Entry {
    /// The set with `extra`, made on first use.
    pub fn set(&mut self, extra: Extra) -> SeriesKey {
        self.key(extra).clone()
    }

    /// The set of HTTP exchange `e`'s duration series, made on first use.
    pub fn http_key(&mut self, e: &HttpEvent) -> &SeriesKey {
        self.http.key(&self.base, e)
    }

    /// [`Entry::set`] without the clone: the set with `extra`, made on first use.
    pub fn key(&mut self, extra: Extra) -> &SeriesKey {
        let base = &self.base;
        self.sets[extra.index()].get_or_insert_with(|| {
            let mut pairs = base.clone();
            pairs.extend(extra.pair().map(|(k, v)| (k.to_string(), v.to_string())));
            pairs.sort();
            SeriesKey::new(Arc::from(pairs))
        })
    }
}

/// The cache of one aggregate processor.
pub struct AttributeSets {
    /// Workload attribute keys series keep, in configured order.
    keys: Vec<String>,
    entries: HashMap<Key, Entry>,
}

impl AttributeSets {
    /// An empty cache for series keeping the workload attributes `keys`.
    pub fn new(keys: Vec<String>) -> Self {
        Self {
            keys,
            entries: HashMap::new(),
        }
    }

    /// The sets of events of `workload` (`None`: unattributed) with `peer` pairs
    /// (`None`: peer attributes off, or not a connection metric).
    pub fn entry(&mut self, workload: Option<&Arc<Workload>>, peer: Option<PeerKey>) -> &mut Entry {
        let key = (workload.map_or(0, |w| Arc::as_ptr(w) as usize), peer);
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        let keys = &self.keys;
        let entry = self
            .entries
            .entry(key)
            .or_insert_with(|| new_entry(keys, workload, peer));
        entry.used = true;
        entry
    }

    /// Forgets the entries no event used since the previous sweep (their workloads may be
    /// gone); called once per collection.
    pub fn sweep(&mut self) {
        self.entries
            .retain(|_, entry| std::mem::take(&mut entry.used));
    }

    /// Entries cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn new_entry(keys: &[String], workload: Option<&Arc<Workload>>, peer: Option<PeerKey>) -> Entry {
    let mut base: Vec<(String, String)> = match workload {
        Some(w) => keys
            .iter()
            .filter_map(|key| w.get(key).map(|v| (key.clone(), v.to_string())))
            .collect(),
        None => Vec::new(),
    };
    if let Some((address, port)) = peer {
        base.push(("network.peer.address".into(), address.to_string()));
        base.push(("server.port".into(), port.to_string()));
    }
    Entry {
        _workload: workload.cloned(),
        base,
        sets: Default::default(),
        http: HttpSets::default(),
        used: true,
    }
}

#[cfg(test)]
#[path = "attribute_sets_tests.rs"]
mod tests;
