//! Is an open watched? Its file's inode, the directories above it, or its name in its
//! directory, looked up in the watched-inode maps the agent keeps current.
//!
//! An inode number is first tested against the bit filter (`KOTEL_FILE_OPEN_INODE_FILTER`):
//! most inodes stop there, so the hash lookup (and the read of the device) is paid only by
//! watched inodes and the filter's rare false positives (`inode_lookups`).

use kotel_common::file_open::{
    filter_bit, kind, matched, FileOpenStat, NameKey, Watch, MAX_MATCH_LEVELS, NAME_KEY_BYTES,
};
use kotel_common::vfs::InodeKey;
use kotel_probes::vfs::{Inode, Path, Vfs};

use super::{count, KOTEL_FILE_OPEN_INODES, KOTEL_FILE_OPEN_INODE_FILTER, KOTEL_FILE_OPEN_NAMES};

/// A match: one of the [`matched`] kinds and the watched path's index.
#[derive(Clone, Copy)]
pub(super) struct Hit {
    pub matched: u32,
    pub watch: u32,
}

/// The watch of an inode, when it has one: `ino` through the filter, then its identity
/// (`sb->s_dev`, one more read) in the hash.
#[inline(always)]
fn watch_of(vfs: &Vfs, inode: Inode) -> Option<(InodeKey, Watch)> {
    let bit = filter_bit(inode.ino);
    let word = *KOTEL_FILE_OPEN_INODE_FILTER.get(bit >> 6)?;
    if (word >> (bit & 63)) & 1 == 0 {
        return None;
    }
    count(FileOpenStat::InodeLookups);
    let key = InodeKey {
        dev: vfs.sb_dev(inode.sb)?,
        _pad: 0,
        ino: inode.ino,
    };
    // SAFETY: a hash value copied out at once.
    let watch = unsafe { KOTEL_FILE_OPEN_INODES.get(&key) }.copied()?;
    Some((key, watch))
}

/// The index of the watched file named `name` (NUL-terminated kernel string) in directory
/// `dir`.
///
/// # Safety
/// `name` is 0 or the address of kernel memory (a probing read checks it).
#[inline(always)]
unsafe fn watched_name(key: &mut NameKey, dir: InodeKey, name: u64) -> Option<u32> {
    if name == 0 {
        return None;
    }
    // SAFETY: `key` is writable (caller); the helper writes at most NAME_KEY_BYTES bytes.
    unsafe {
        kotel_probes::mem::zero_words(key);
        key.dir = dir;
        let n = aya_ebpf::helpers::generated::bpf_probe_read_kernel_str(
            key.name.as_mut_ptr().cast(),
            NAME_KEY_BYTES as u32,
            name as *const _,
        );
        // A name that filled the key may be longer than it: never a watched name.
        if n <= 0 || n as usize >= NAME_KEY_BYTES {
            return None;
        }
        KOTEL_FILE_OPEN_NAMES.get(key).copied()
    }
}

/// Walks up from `start` (checked itself when `include_start`), one directory per level,
/// through the filesystem's own parents and then across the mounts above a filesystem
/// shown whole, and returns the first watched directory. The first directory checked is
/// the one the file sits in: when it holds watched files, the file's name (`name()`, the
/// address of a NUL-terminated kernel string, 0 for none; called only then) is looked up
/// among their names.
///
/// # Safety
/// `name()` returns 0 or the address of kernel memory.
#[inline(always)]
pub(super) unsafe fn above(
    vfs: &Vfs,
    start: Path,
    include_start: bool,
    name: impl Fn() -> u64,
    key: &mut NameKey,
) -> Option<Hit> {
    let mut at = start;
    let mut first = true;
    let mut check = include_start;
    for _ in 0..MAX_MATCH_LEVELS {
        let d = vfs.dentry(at.dentry)?;
        if check {
            if let Some((dir, w)) = vfs.inode(d.inode).and_then(|i| watch_of(vfs, i)) {
                if w.kinds & kind::DIRECTORY != 0 {
                    return Some(Hit {
                        matched: matched::DIRECTORY,
                        watch: w.index,
                    });
                }
                if first && w.kinds & kind::PARENT != 0 {
                    // SAFETY: `name()` is 0 or kernel memory (caller).
                    if let Some(index) = unsafe { watched_name(key, dir, name()) } {
                        return Some(Hit {
                            matched: matched::NAME,
                            watch: index,
                        });
                    }
                }
            }
            first = false;
        }
        check = true;
        if d.parent != at.dentry {
            at.dentry = d.parent;
            continue;
        }
        // The filesystem's root: above it only when a mount shows it whole.
        if vfs.mount_root(at.mnt)? != at.dentry {
            return None;
        }
        at = vfs.mounted_on(at.mnt)??;
    }
    count(FileOpenStat::WalkDeep);
    None
}

/// Whether the opened file (`path`, `inode`) is watched: its inode (a watched
/// file or directory), its name in its directory, or a directory above it.
///
#[inline(always)]
pub(super) fn opened(vfs: &Vfs, path: Path, inode: Inode, key: &mut NameKey) -> Option<Hit> {
    if let Some((_, w)) = watch_of(vfs, inode) {
        if w.kinds & (kind::FILE | kind::DIRECTORY) != 0 {
            return Some(Hit {
                matched: matched::INODE,
                watch: w.index,
            });
        }
    }
    let name = || vfs.name(path.dentry).unwrap_or(0);
    // SAFETY: a dentry's name pointer is kernel memory.
    unsafe { above(vfs, path, false, name, key) }
}
