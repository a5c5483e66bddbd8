//! Task names (`comm`, 16 bytes from the kernel) as shared strings, so a busy process's
//! thousandth event costs a lookup, not an allocation.
//!
//! Contract: [`TaskNames::get`] returns the name up to its first NUL (all 16 bytes when
//! there is none) as lossy UTF-8, the same string for the same bytes while it is cached. At
//! most [`MAX_NAMES`] names are kept; when a new one would exceed that the cache is emptied
//! and starts again (a node rarely has that many distinct task names; memory stays bounded
//! when it does).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Most names kept before the cache starts again.
pub const MAX_NAMES: usize = 4096;

/// The kernel's task name buffer (`TASK_COMM_LEN`).
pub type Comm = [u8; 16];

/// Interned task names; one per reader (not shared between threads).
#[derive(Default)]
pub struct TaskNames {
    names: HashMap<Comm, Arc<str>, BuildHasherDefault<CommHasher>>,
}

impl TaskNames {
    /// The name in `comm` (see the module contract).
    pub fn get(&mut self, comm: &Comm) -> Arc<str> {
        if let Some(name) = self.names.get(comm) {
            return name.clone();
        }
        if self.names.len() >= MAX_NAMES {
            self.names.clear();
        }
        let name = text(comm);
        self.names.insert(*comm, name.clone());
        name
    }

    /// Names cached now.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The name up to the first NUL, lossy UTF-8, uncached.
pub fn text(comm: &[u8]) -> Arc<str> {
    let end = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
    Arc::from(String::from_utf8_lossy(&comm[..end]))
}

/// A multiply-xorshift hash of the 16 key bytes: the keys are local (no attacker picks
/// them to collide beyond making the cache start again), and SipHash costs more than the
/// whole lookup.
#[derive(Default)]
pub struct CommHasher(u64);

impl Hasher for CommHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            let mixed = (self.0 ^ u64::from_le_bytes(word)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            self.0 = mixed ^ (mixed >> 29);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
#[path = "task_names_tests.rs"]
mod tests;
