//! The kernel maps of watched inodes and names, kept equal to a [`WatchSet`].
//!
//! Contract: [`WatchMaps::apply`] changes only what differs. Additions and changes are
//! written first and the inode filter grows to cover old and new entries, then removals
//! are deleted and the filter shrinks to the new set: a watched inode present before and
//! after an update is matched throughout. A map that is full rejects the entries beyond
//! its capacity; they are counted as `map_full`, the rest still applies.

use aya::maps::{Array, HashMap, MapData};
use aya::Ebpf;
use kotel_common::file_open::{
    filter_bit, kind, name_length_bit, names, NameKey, Watch, DIR_NAME_LENGTHS, FILTER_ARRAY_WORDS,
    MATCH_FILTER, NAME_KEY_BYTES, NAME_LENGTHS, PARENT_FILTER, PARENT_NAME_LENGTHS,
};
use kotel_common::vfs::InodeKey;

use super::watch::WatchSet;
use crate::component::ComponentError;
use crate::kernel::load::startup;

/// The maps, taken out of the loaded object, and what they hold.
pub struct WatchMaps {
    inodes: HashMap<MapData, InodeKey, Watch>,
    names: HashMap<MapData, NameKey, u32>,
    filter: Array<MapData, u64>,
    current: WatchSet,
}

/// What an [`WatchMaps::apply`] changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries written (new or changed).
    pub written: usize,
    /// Entries deleted.
    pub removed: usize,
    /// Entries the maps had no room for.
    pub full: usize,
}

fn take<T>(ebpf: &mut Ebpf, name: &str) -> Result<T, ComponentError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf
        .take_map(name)
        .ok_or_else(|| ComponentError::Startup(format!("map {name} missing from the object")))?;
    T::try_from(map).map_err(|e| startup(name, &e))
}

/// The filter array covering every inode and name of `sets`.
fn filter_words<'a>(sets: impl IntoIterator<Item = &'a WatchSet>) -> Vec<u64> {
    let mut words = vec![0u64; FILTER_ARRAY_WORDS as usize];
    for set in sets {
        for (key, w) in &set.inodes {
            let bit = filter_bit(key.ino);
            for (kinds, base) in [
                (kind::FILE | kind::DIRECTORY, MATCH_FILTER),
                (kind::PARENT, PARENT_FILTER),
            ] {
                if w.kinds & kinds != 0 {
                    words[(base + bit / 64) as usize] |= 1 << (bit % 64);
                }
            }
        }
        words[DIR_NAME_LENGTHS as usize] |= set.dir_name_lengths;
        words[PARENT_NAME_LENGTHS as usize] |= set.parent_name_lengths;
        for name in set.names.keys() {
            let len = name
                .name
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(NAME_KEY_BYTES);
            words[NAME_LENGTHS as usize] |= name_length_bit(len as u32);
        }
    }
    words
}

impl WatchMaps {
    /// Takes the maps out of `ebpf` (they start empty).
    pub fn take(ebpf: &mut Ebpf) -> Result<Self, ComponentError> {
        Ok(Self {
            inodes: take(ebpf, names::INODES)?,
            names: take(ebpf, names::NAMES)?,
            filter: take(ebpf, names::INODE_FILTER)?,
            current: WatchSet::default(),
        })
    }

    /// What the maps hold.
    pub fn current(&self) -> &WatchSet {
        &self.current
    }

    fn write_filter(&mut self, words: &[u64]) -> Result<(), String> {
        for (i, w) in words.iter().enumerate() {
            self.filter
                .set(i as u32, w, 0)
                .map_err(|e| format!("writing the inode filter: {e}"))?;
        }
        Ok(())
    }

    /// Makes the maps hold `next`; see the module contract. An error is a map write that
    /// failed for another reason than room (the maps then hold a mix, and the next apply
    /// repairs it).
    pub fn apply(&mut self, next: WatchSet) -> Result<Applied, String> {
        if next == self.current {
            return Ok(Applied::default());
        }
        let mut applied = Applied::default();
        let mut kept = WatchSet::default();
        for (key, w) in &next.inodes {
            if self.current.inodes.get(key) == Some(w) {
                kept.inodes.insert(*key, *w);
                continue;
            }
            match self.inodes.insert(key, w, 0) {
                Ok(()) => {
                    applied.written += 1;
                    kept.inodes.insert(*key, *w);
                }
                Err(e) if is_full(&e) => applied.full += 1,
                Err(e) => return Err(format!("writing watched inode {key:?}: {e}")),
            }
        }
        for (key, index) in &next.names {
            if self.current.names.get(key) == Some(index) {
                kept.names.insert(*key, *index);
                continue;
            }
            match self.names.insert(key, index, 0) {
                Ok(()) => {
                    applied.written += 1;
                    kept.names.insert(*key, *index);
                }
                Err(e) if is_full(&e) => applied.full += 1,
                Err(e) => return Err(format!("writing a watched name: {e}")),
            }
        }
        kept.dir_name_lengths = next.dir_name_lengths;
        kept.parent_name_lengths = next.parent_name_lengths;
        self.write_filter(&filter_words([&self.current, &kept]))?;
        let gone_inodes: Vec<InodeKey> = self
            .current
            .inodes
            .keys()
            .filter(|k| !kept.inodes.contains_key(k))
            .copied()
            .collect();
        let gone_names: Vec<NameKey> = self
            .current
            .names
            .keys()
            .filter(|k| !kept.names.contains_key(k))
            .copied()
            .collect();
        for key in gone_inodes {
            let _ = self.inodes.remove(&key);
            applied.removed += 1;
        }
        for key in gone_names {
            let _ = self.names.remove(&key);
            applied.removed += 1;
        }
        self.current = kept;
        self.write_filter(&filter_words([&self.current]))?;
        Ok(applied)
    }
}

/// Whether a map insert failed for lack of room (`E2BIG`).
fn is_full(e: &aya::maps::MapError) -> bool {
    matches!(e, aya::maps::MapError::SyscallError(s) if s.io_error.raw_os_error() == Some(libc::E2BIG))
}
