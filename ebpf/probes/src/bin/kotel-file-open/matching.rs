//! Is an open watched? Its file's inode, the directories above it, or its name in its
//! directory, looked up in the watched-inode maps the agent keeps current.
//!
//! Inode numbers are first tested against bit filters (`KOTEL_FILE_OPEN_INODE_FILTER`): one
//! of watched files and directories, one of directories holding watched files, whose
//! files are looked up by name only when their name's length is one a watched name has.
//! Most opens stop at the filters, so the hash lookups (and the read of the device) are
//! paid by watched inodes and the filters' rare false positives (`inode_lookups`). Before
//! those, a directory whose name's length no watched directory has is passed without
//! reading its inode at all (an opened file's own directory is also read as a possible
//! holder of watched files, when both its name's length and the file's are watched ones).

use kotel_common::file_open::{
    filter_bit, kind, matched, name_length_bit, FileOpenStat, NameKey, Watch, DIR_NAME_LENGTHS,
    MATCH_FILTER, MAX_MATCH_LEVELS, NAME_KEY_BYTES, NAME_LENGTHS, PARENT_FILTER,
    PARENT_NAME_LENGTHS,
};
use kotel_common::vfs::InodeKey;
use kotel_probes::vfs::{Inode, Path, Span, Vfs, VfsRead};

use super::{count, KOTEL_FILE_OPEN_INODES, KOTEL_FILE_OPEN_INODE_FILTER, KOTEL_FILE_OPEN_NAMES};

/// A match: one of the [`matched`] kinds and the watched path's index.
#[derive(Clone, Copy)]
pub(super) struct Hit {
    pub matched: u32,
    pub watch: u32,
}

/// A file name to look up in a directory holding watched files: the address of a
/// NUL-terminated string in kernel memory (0: none) and its length.
#[derive(Clone, Copy)]
pub(super) struct Name {
    pub ptr: u64,
    pub len: u32,
}

/// Whether `ino`'s bit is set in the filter starting at word `base`.
#[inline(always)]
fn in_filter(base: u32, ino: u64) -> bool {
    let bit = filter_bit(ino);
    KOTEL_FILE_OPEN_INODE_FILTER
        .get(base + (bit >> 6))
        .is_some_and(|word| (word >> (bit & 63)) & 1 != 0)
}

/// Whether bit `name_length_bit(len)` is set in name-length mask `word` of the filter
/// array (`NAME_LENGTHS`: watched files' names; `DIR_NAME_LENGTHS`: the dentry names of
/// watched directories; `PARENT_NAME_LENGTHS`: those of directories holding watched
/// files).
#[inline(always)]
fn length_watched(word: u32, len: u32) -> bool {
    KOTEL_FILE_OPEN_INODE_FILTER
        .get(word)
        .is_some_and(|w| w & name_length_bit(len) != 0)
}

/// The watch of `inode`: its identity (`sb->s_dev`, one more read) in the hash.
#[inline(always)]
fn watch_of<R: VfsRead>(r: &R, inode: Inode) -> Option<(InodeKey, Watch)> {
    count(FileOpenStat::InodeLookups);
    let key = InodeKey {
        dev: r.sb_dev(inode.sb)?,
        _pad: 0,
        ino: inode.ino,
    };
    // SAFETY: a hash value copied out at once.
    let watch = unsafe { KOTEL_FILE_OPEN_INODES.get(&key) }.copied()?;
    Some((key, watch))
}

/// The index of the watched file named `name` in directory `dir`.
#[inline(always)]
fn watched_name(key: &mut NameKey, dir: InodeKey, name: Name) -> Option<u32> {
    if name.ptr == 0 {
        return None;
    }
    // SAFETY: all-zero bytes are a valid NameKey; the helper writes at most NAME_KEY_BYTES
    // bytes into `key.name`, and a bad `name.ptr` fails the read.
    unsafe {
        kotel_probes::mem::zero_words(key);
        key.dir = dir;
        let n = aya_ebpf::helpers::generated::bpf_probe_read_kernel_str(
            key.name.as_mut_ptr().cast(),
            NAME_KEY_BYTES as u32,
            name.ptr as *const _,
        );
        // A name that filled the key may be longer than it: never a watched name.
        if n <= 0 || n as usize >= NAME_KEY_BYTES {
            return None;
        }
        KOTEL_FILE_OPEN_NAMES.get(key).copied()
    }
}

/// How a walk up through one reader ended.
enum Walk {
    /// A watched directory, or the file's name in a directory holding watched files.
    Hit(Hit),
    /// Nothing watched above (or a read failed).
    Miss,
    /// A filesystem root that a mount shows whole, with a reader that does not cross
    /// mounts: the walk goes on from where it is mounted (a probing read's pointer).
    Below(Path),
}

/// Walks up from directory `start` (itself included), one directory per level, through the
/// filesystem's own parents and, with a reader that crosses mounts, then across the mounts
/// above a filesystem shown whole; ends at the first watched directory. `start` is where
/// the file named `name` sits (`name.ptr == 0`: no file): when it holds watched files,
/// `name` is looked up among their names.
#[inline(always)]
fn levels<R: VfsRead>(
    r: &R,
    vfs: &Vfs,
    start: Path,
    name: Name,
    key: &mut NameKey,
    span: &mut Span,
) -> Walk {
    let mut at = start;
    let mut first = name.ptr != 0;
    // No watched directory: nothing above the file's own directory can match.
    let any_dir = KOTEL_FILE_OPEN_INODE_FILTER
        .get(DIR_NAME_LENGTHS)
        .is_some_and(|w| *w != 0);
    for _ in 0..MAX_MATCH_LEVELS {
        if !first && !any_dir {
            return Walk::Miss;
        }
        let Some(d) = r.dentry(at.dentry, span) else {
            return Walk::Miss;
        };
        let maybe_dir = length_watched(DIR_NAME_LENGTHS, d.name_len);
        let maybe_parent = first
            && length_watched(PARENT_NAME_LENGTHS, d.name_len)
            && length_watched(NAME_LENGTHS, name.len);
        if maybe_dir || maybe_parent {
            let Some(inode) = r.inode(d.inode, span) else {
                return Walk::Miss;
            };
            let as_dir = maybe_dir && in_filter(MATCH_FILTER, inode.ino);
            let as_parent = maybe_parent && in_filter(PARENT_FILTER, inode.ino);
            if as_dir || as_parent {
                if let Some((dir, w)) = watch_of(r, inode) {
                    if w.kinds & kind::DIRECTORY != 0 {
                        return Walk::Hit(Hit {
                            matched: matched::DIRECTORY,
                            watch: w.index,
                        });
                    }
                    if as_parent && w.kinds & kind::PARENT != 0 {
                        if let Some(index) = watched_name(key, dir, name) {
                            return Walk::Hit(Hit {
                                matched: matched::NAME,
                                watch: index,
                            });
                        }
                    }
                }
            }
        }
        first = false;
        if d.parent != at.dentry {
            at.dentry = d.parent;
            continue;
        }
        // The filesystem's root: above it only when a mount shows it whole.
        let Some(mount) = vfs.mount(at.mnt, span) else {
            return Walk::Miss;
        };
        if mount.root != at.dentry {
            return Walk::Miss;
        }
        let Some(below) = mount.on else {
            return Walk::Miss;
        };
        if !R::CROSSES_MOUNTS {
            return Walk::Below(below);
        }
        at = below;
    }
    count(FileOpenStat::WalkDeep);
    Walk::Miss
}

/// The first watched directory at or above directory `start` (see [`levels`]), first
/// through `r`, then, past a mount `r` does not cross, through probing reads.
#[inline(always)]
pub(super) fn above<R: VfsRead>(
    r: &R,
    vfs: &Vfs,
    start: Path,
    name: Name,
    key: &mut NameKey,
    span: &mut Span,
) -> Option<Hit> {
    let walk = match levels(r, vfs, start, name, key, span) {
        Walk::Below(below) => levels(vfs, vfs, below, Name { ptr: 0, len: 0 }, key, span),
        walk => walk,
    };
    match walk {
        Walk::Hit(hit) => Some(hit),
        _ => None,
    }
}

/// Whether the opened file (`path`, `inode`, read through `r`) is watched: its inode (a
/// watched file or directory), its name in its directory, or a directory above it.
#[inline(always)]
pub(super) fn opened<R: VfsRead>(
    r: &R,
    vfs: &Vfs,
    path: Path,
    inode: Inode,
    key: &mut NameKey,
    span: &mut Span,
) -> Option<Hit> {
    if in_filter(MATCH_FILTER, inode.ino) {
        if let Some((_, w)) = watch_of(r, inode) {
            if w.kinds & (kind::FILE | kind::DIRECTORY) != 0 {
                return Some(Hit {
                    matched: matched::INODE,
                    watch: w.index,
                });
            }
        }
    }
    let file = r.dentry(path.dentry, span)?;
    if file.parent != path.dentry {
        let name = Name {
            ptr: file.name,
            len: file.name_len,
        };
        let parent = Path {
            mnt: path.mnt,
            dentry: file.parent,
        };
        return above(r, vfs, parent, name, key, span);
    }
    // A filesystem's root (a mount point opened): from where it is mounted, when whole.
    let mount = vfs.mount(path.mnt, span)?;
    if mount.root != path.dentry {
        return None;
    }
    above(vfs, vfs, mount.on?, Name { ptr: 0, len: 0 }, key, span)
}
