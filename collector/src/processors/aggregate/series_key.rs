//! The key of a series: its attribute set with the set's hash, computed once when the set
//! is made, so that finding an event's series costs no hashing of strings.
//!
//! Contract: keys of equal attribute sets are equal and hash alike wherever they were
//! made in the process (one randomly keyed SipHash per process, so attribute values a
//! peer controls cannot be chosen to collide); equality compares the hash, then the
//! `Arc`'s address, and only then the pairs.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, OnceLock};

use crate::event::Attributes;

/// An attribute set and its hash.
#[derive(Clone, Debug)]
pub struct SeriesKey {
    hash: u64,
    attributes: Attributes,
}

impl SeriesKey {
    /// The key of `attributes` (hashes them).
    pub fn new(attributes: Attributes) -> Self {
        static HASHER: OnceLock<RandomState> = OnceLock::new();
        let hash = HASHER.get_or_init(RandomState::new).hash_one(&attributes);
        Self { hash, attributes }
    }

    /// The attribute set.
    pub fn attributes(&self) -> &Attributes {
        &self.attributes
    }
}

impl PartialEq for SeriesKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.attributes, &other.attributes)
                || self.attributes == other.attributes)
    }
}

impl Eq for SeriesKey {}

impl Hash for SeriesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Builds [`Prehashed`] hashers: for maps keyed by [`SeriesKey`].
pub type BuildPrehashed = BuildHasherDefault<Prehashed>;

/// A hasher that passes a [`SeriesKey`]'s hash through.
#[derive(Default)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `SeriesKey`; correct (if slow) for anything else.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
#[path = "series_key_tests.rs"]
mod tests;
