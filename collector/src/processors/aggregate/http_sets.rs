//! The attribute sets of the HTTP request-duration series of one workload: the
//! workload's pairs plus `http.request.method`, `http.response.status_code`,
//! `error.type`, `url.scheme`, `network.protocol.version`, and `http.route` (server) or
//! `server.address`/`server.port` (client), as the HTTP semantic conventions give them. Made once per distinct combination and
//! reused, so that a request whose series exists allocates nothing: the lookup hashes the
//! event's fields in place and compares them with the cached ones.
//!
//! At most [`MAX_PER_WORKLOAD`] combinations are cached per workload; beyond it the cache
//! starts over (the store's cardinality limit bounds the series themselves).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use crate::event::{HttpEvent, HttpFailure, HttpMethod, HttpSide, HttpVersion};
use crate::processors::aggregate::series_key::{BuildPrehashed, SeriesKey};

/// Most combinations cached per workload.
pub const MAX_PER_WORKLOAD: usize = 4096;

/// What sets one HTTP series apart within a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Labels {
    side: HttpSide,
    method: HttpMethod,
    version: HttpVersion,
    status: u16,
    failure: Option<HttpFailure>,
    /// The route (server) or the `Host` of the server (client).
    target: String,
    /// The server's address, for a client request without a `Host`.
    address: Option<IpAddr>,
    port: u16,
}

impl Labels {
    fn matches(&self, e: &HttpEvent) -> bool {
        let (target, address, port) = target(e);
        self.side == e.side
            && self.status == e.status
            && self.failure == e.failure
            && self.port == port
            && self.method == e.method
            && self.version == e.version
            && self.address == address
            && self.target == target
    }
}

/// The route of a server exchange; the server's name (its `Host`) or else address, and
/// its port, for a client one.
fn target(e: &HttpEvent) -> (&str, Option<IpAddr>, u16) {
    match e.side {
        HttpSide::Server => (e.route.as_str(), None, 0),
        HttpSide::Client if e.host.is_empty() => ("", Some(e.peer_address), e.peer_port),
        HttpSide::Client => (e.host.as_str(), None, e.peer_port),
    }
}

/// The cached sets of one workload.
#[derive(Default)]
pub struct HttpSets {
    /// Seeded per process; a bucket of colliding sets is scanned, and their number is
    /// bounded by [`MAX_PER_WORKLOAD`].
    hasher: foldhash::fast::RandomState,
    /// Keyed by the hash already made: not hashed again.
    by_hash: HashMap<u64, Vec<(Labels, SeriesKey)>, BuildPrehashed>,
    len: usize,
}

impl HttpSets {
    /// The set of `e`'s series, the workload's pairs being `base`.
    pub fn key(&mut self, base: &[(String, String)], e: &HttpEvent) -> &SeriesKey {
        let (target_value, address, port) = target(e);
        let mut h = self.hasher.build_hasher();
        (e.side == HttpSide::Server).hash(&mut h);
        e.method.hash(&mut h);
        e.version.hash(&mut h);
        e.status.hash(&mut h);
        e.failure.map(HttpFailure::as_str).hash(&mut h);
        target_value.hash(&mut h);
        address.hash(&mut h);
        port.hash(&mut h);
        let hash = h.finish();
        let found = self
            .by_hash
            .get(&hash)
            .and_then(|v| v.iter().position(|(l, _)| l.matches(e)));
        if found.is_none() && self.len >= MAX_PER_WORKLOAD {
            self.by_hash.clear();
            self.len = 0;
        }
        let bucket = self.by_hash.entry(hash).or_default();
        let at = match found.filter(|&i| i < bucket.len()) {
            Some(i) => i,
            None => {
                bucket.push((labels(e), series_key(base, e)));
                self.len += 1;
                bucket.len() - 1
            }
        };
        &bucket[at].1
    }
}

fn labels(e: &HttpEvent) -> Labels {
    let (target, address, port) = target(e);
    Labels {
        side: e.side,
        method: e.method,
        version: e.version,
        status: e.status,
        failure: e.failure,
        target: target.to_string(),
        address,
        port,
    }
}

fn series_key(base: &[(String, String)], e: &HttpEvent) -> SeriesKey {
    let mut pairs = base.to_vec();
    pairs.push(("http.request.method".into(), e.method.to_string()));
    pairs.push(("url.scheme".into(), "http".into()));
    pairs.push(("network.protocol.version".into(), e.version.as_str().into()));
    if e.status > 0 {
        pairs.push(("http.response.status_code".into(), e.status.to_string()));
    }
    if let Some(t) = e.error_type() {
        pairs.push(("error.type".into(), t.to_string()));
    }
    let (target, address, port) = target(e);
    match e.side {
        HttpSide::Server => {
            if !target.is_empty() {
                pairs.push(("http.route".into(), target.to_string()));
            }
        }
        HttpSide::Client => {
            let server = address.map_or_else(|| target.to_string(), |a| a.to_string());
            pairs.push(("server.address".into(), server));
            pairs.push(("server.port".into(), port.to_string()));
        }
    }
    pairs.sort();
    SeriesKey::new(Arc::from(pairs))
}

#[cfg(test)]
#[path = "http_sets_tests.rs"]
mod tests;
