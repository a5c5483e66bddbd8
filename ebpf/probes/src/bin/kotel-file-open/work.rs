//! The exit handler's working state, kept in a per-CPU map (`KOTEL_FILE_OPEN_SCRATCH`)
//! rather than on the 512-byte stack. Safe because classic tracepoint programs never nest
//! on a CPU: one exit at a time owns this CPU's value from its start to its end.

use kotel_common::file_open::{FileOpenRecord, NameKey, OpenArgs};
use kotel_probes::vfs::Span;

/// One exit's state: the record it may emit and what it found on the way.
#[repr(C)]
pub(super) struct Work {
    /// The record under construction.
    pub rec: FileOpenRecord,
    /// The open's arguments (valid when `args_state` is `args::state::HELD`).
    pub args: OpenArgs,
    /// Scratch key for the watched-name lookup.
    pub key: NameKey,
    /// Scratch for the VFS span reads.
    pub span: Span,
    /// The opened file (`struct file *`; 0 for a failed open).
    pub file: u64,
    /// Its inode (`struct inode *`).
    pub inode: u64,
    /// The inode's super block (`struct super_block *`).
    pub sb: u64,
    /// The mount and dentry the resolved path is walked from (`from_dentry == 0`: none).
    pub from_mnt: u64,
    /// See `from_mnt`.
    pub from_dentry: u64,
    /// Where the open's arguments are: one of `args::state`.
    pub args_state: u32,
    /// Non-zero when `from_*` is the directory a failed relative open started from.
    pub from_base: u32,
    /// Non-zero when the opened file was read through BTF pointers.
    pub typed: u32,
}
