//! `file_open` source records (shared with the kernel program `kotel-file-open`).
//!
//! Contract: opens are matched by **what was opened**, not by the string passed.
//! `sys_enter_{openat,openat2,open,creat}` only keep the arguments (slot `tid %
//! ARG_SLOTS` of the argument table). At `sys_exit_*`:
//! - a successful open is taken from the descriptor it returned and reported when its inode
//!   is a watched file or directory, when a directory above it (its own filesystem's
//!   ancestors, then across the mounts above a filesystem mounted whole) is a watched
//!   directory, or when it has a watched file's name in that file's directory;
//! - a failed open is reported when its requested path is absolute and starts with a
//!   watched path at a component boundary (LPM trie), or is relative and the directory it
//!   started from is, or is below, a watched directory, or holds a watched file of that
//!   name.
//!
//! A reported open carries the requested path, the resolved path (walked from the dentries
//! up to the process's root), flags, result and the file's identity. Without VFS offsets
//! (no BTF) every open falls back to matching its requested path.

/// Length of the `comm` field (the kernel's `TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;

/// Bytes of the requested path the kernel reads and carries: longer paths are cut
/// (`STATUS_REQUESTED_TRUNCATED`) and matched on their first `PATH_MAX_BYTES - 1` bytes.
/// 256 is also the LPM trie's key limit.
pub const PATH_MAX_BYTES: usize = 256;
/// Longest watched path in bytes (one byte of the buffer holds the string's NUL).
pub const MAX_PREFIX_LEN: usize = PATH_MAX_BYTES - 1;
/// Most watched paths (entries of the LPM trie).
pub const MAX_PREFIXES: u32 = 1024;
/// Most watched inodes: every watched path resolved in every mount namespace, plus the
/// parent directory of each watched file.
pub const MAX_INODES: u32 = 65536;
/// Bytes of a file name carried in a [`NameKey`]: a watched file whose name is longer is
/// matched by its inode only.
pub const NAME_KEY_BYTES: usize = 64;
/// Slots of the syscall-argument table (a power of two): an open's arguments are kept in
/// slot `tid % ARG_SLOTS` from enter to exit.
pub const ARG_SLOTS: u32 = 16384;
/// Bits of each inode-number filter in front of the inode hash ([`FILTER_WORDS`] words).
pub const FILTER_BITS: u32 = 4096;
/// `u64` words of each inode-number filter.
pub const FILTER_WORDS: u32 = FILTER_BITS / 64;
/// First word of the filter of watched files and directories (kinds `FILE`, `DIRECTORY`)
/// in the filter array.
pub const MATCH_FILTER: u32 = 0;
/// First word of the filter of directories holding watched files (kind `PARENT`).
pub const PARENT_FILTER: u32 = FILTER_WORDS;
/// The word whose bit `n` is set when a watched file's name is `n` bytes long (`n < 64`):
/// a file in a `PARENT` directory is looked up by name only when its length matches.
pub const NAME_LENGTHS: u32 = 2 * FILTER_WORDS;
/// The word whose bit `n` is set when a watched directory has a name `n` bytes long as its
/// dentry knows it (bit 63: 63 bytes or more): a directory of another length is passed
/// without reading its inode.
pub const DIR_NAME_LENGTHS: u32 = 2 * FILTER_WORDS + 1;
/// The same mask for the directories holding watched files: an opened file's directory
/// is read as a possible holder only when its name's length is here and the file's name's
/// length is in [`NAME_LENGTHS`].
pub const PARENT_NAME_LENGTHS: u32 = 2 * FILTER_WORDS + 2;
/// Words of the filter array: the two filters and the three name-length masks.
pub const FILTER_ARRAY_WORDS: u32 = 2 * FILTER_WORDS + 3;

/// The bit of a name of `len` bytes in a name-length mask (63 for 63 bytes and more).
pub const fn name_length_bit(len: u32) -> u64 {
    1 << if len < 63 { len } else { 63 }
}
/// Directory levels the match walks up from an opened file at most (its parent is level
/// 1); a deeper file is matched on its lower levels only and counted (`walk_deep`).
pub const MAX_MATCH_LEVELS: u32 = 32;

/// Value of a watched path in the prefix trie: its index and its length in bytes.
pub const fn prefix_value(index: u32, len: u32) -> u32 {
    index | (len << 16)
}

/// The filter bit of an inode number: the top 12 bits of a Fibonacci hash.
pub const fn filter_bit(ino: u64) -> u32 {
    (ino.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 52) as u32 & (FILTER_BITS - 1)
}

/// Which syscall made the open, as carried in [`FileOpenRecord::syscall`]. Values are stable.
pub mod syscall {
    /// Unknown: the open's arguments were lost between enter and exit
    /// ([`super::STATUS_ARGS_LOST`]).
    pub const UNKNOWN: u32 = 0;
    /// `openat(2)`.
    pub const OPENAT: u32 = 1;
    /// `openat2(2)`; flags come from `struct open_how`.
    pub const OPENAT2: u32 = 2;
    /// `open(2)` (x86_64 and a few other architectures).
    pub const OPEN: u32 = 3;
    /// `creat(2)`: flags are reported as `O_CREAT|O_WRONLY|O_TRUNC`.
    pub const CREAT: u32 = 4;

    /// snake_case name of a syscall id (`""` for [`UNKNOWN`]), `None` for an id this build
    /// does not know.
    pub const fn name(id: u32) -> Option<&'static str> {
        Some(match id {
            UNKNOWN => "",
            OPENAT => "openat",
            OPENAT2 => "openat2",
            OPEN => "open",
            CREAT => "creat",
            _ => return None,
        })
    }
}

/// How a reported open matched, as carried in [`FileOpenRecord::matched`]. Values are
/// stable.
pub mod matched {
    /// The opened file (or directory) is a watched one, by inode: any name, any hard link,
    /// any mount it is reached through.
    pub const INODE: u32 = 1;
    /// A directory above the opened file is a watched directory.
    pub const DIRECTORY: u32 = 2;
    /// The file has a watched file's name in that file's directory (a file created or
    /// renamed there since the agent last resolved the watched paths).
    pub const NAME: u32 = 3;
    /// A failed open whose requested path (absolute, or joined to its directory) starts
    /// with a watched path.
    pub const PATH: u32 = 4;

    /// snake_case name of a match kind, `None` for a kind this build does not know.
    pub const fn name(id: u32) -> Option<&'static str> {
        Some(match id {
            INODE => "inode",
            DIRECTORY => "directory",
            NAME => "name",
            PATH => "path",
            _ => return None,
        })
    }
}

/// `status` bit: the requested path was longer than the bytes carried.
pub const STATUS_REQUESTED_TRUNCATED: u32 = 1;
/// `status` bit: the open's arguments were lost between enter and exit (another thread
/// took the slot, or the thread moved); the requested path is empty and the flags are the
/// file's (`f_flags`, without `O_CREAT`, `O_EXCL`, `O_NOCTTY`, `O_TRUNC`).
pub const STATUS_ARGS_LOST: u32 = 2;
/// `status` bit: `resolved` names the directory the requested (relative) path starts from,
/// not the file (a failed open).
pub const STATUS_RESOLVED_IS_BASE: u32 = 4;
/// `status` bit: the file has no link left (`i_nlink == 0`: unlinked, `O_TMPFILE`, memfd).
pub const STATUS_UNLINKED: u32 = 8;
/// Shift of the path walk's `vfs::WALK_*` flags inside `status`.
pub const STATUS_WALK_SHIFT: u32 = 8;

/// Kinds of a watched inode, as bits of [`Watch::kinds`].
pub mod kind {
    /// A watched file: opening it (by any name) is reported.
    pub const FILE: u32 = 1;
    /// A watched directory: opening anything below it is reported.
    pub const DIRECTORY: u32 = 2;
    /// The directory holding a watched file: a file opened directly in it is checked by
    /// name ([`super::NameKey`]).
    pub const PARENT: u32 = 4;
}

/// Value of a watched inode.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watch {
    /// [`kind`] bits.
    pub kinds: u32,
    /// Index of the watched path in the configuration (for `FILE` and `DIRECTORY`).
    pub index: u32,
}

/// Key of a watched file's name in its directory: the directory's identity and the name,
/// zero padded.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameKey {
    /// The directory.
    pub dir: crate::vfs::InodeKey,
    /// The file name, zero padded (names of [`NAME_KEY_BYTES`] bytes have no NUL).
    pub name: [u8; NAME_KEY_BYTES],
}

/// An open's arguments, kept from its enter to its exit in the argument table.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenArgs {
    /// `bpf_get_current_pid_tgid()` of the opening thread (0: slot free).
    pub pid_tgid: u64,
    /// User address of the path.
    pub filename: u64,
    /// openat2: user address of `struct open_how` (flags are read at exit); else 0.
    pub how: u64,
    /// Open flags (not for openat2).
    pub flags: u32,
    /// Directory fd the path is relative to (`AT_FDCWD` = -100 for the cwd).
    pub dfd: i32,
    /// One of the [`syscall`] ids.
    pub syscall: u32,
    /// The architecture's syscall number (the exit checks it against its own).
    pub syscall_nr: u32,
}

/// Where the exit program finds an open's arguments itself, so that no enter program runs:
/// the task's user registers as saved at syscall entry (`bpf_task_pt_regs`, kernels 5.15
/// and later with BTF; the agent uses it from 6.1, the oldest kernel its matrix runs it on). Set by the agent; `valid == 0`: the enter programs keep the
/// arguments in the argument table instead.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallRegs {
    /// Non-zero when the fields below describe the running kernel.
    pub valid: u32,
    /// Where the program starts reading `struct pt_regs` ([`crate::vfs::FILE_SPAN`] bytes
    /// holding every argument register).
    pub span: u32,
    /// `pt_regs` offsets of the registers holding the syscall's arguments 0 to 3.
    pub args: [u32; 4],
    /// The architecture's syscall numbers of the [`syscall`] ids 1 to 4 (`openat`,
    /// `openat2`, `open`, `creat`); `u32::MAX` for one it does not have.
    pub numbers: [u32; 4],
}

impl SyscallRegs {
    /// Not set: the enter programs keep the arguments.
    pub const UNKNOWN: SyscallRegs = SyscallRegs {
        valid: 0,
        span: 0,
        args: [0; 4],
        numbers: [u32::MAX; 4],
    };
}

/// One reported open, as written by the kernel into the ring buffer.
///
/// `path_bits` directly precedes `path`, so `path_bits..` is an LPM trie key
/// (`{ prefix_len: u32, data: [u8; PATH_MAX_BYTES] }`) in place.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileOpenRecord {
    /// Monotonic time (ns, `bpf_ktime_get_ns`) of the syscall's return.
    pub timestamp_ns: u64,
    /// cgroup v2 id of the opening process.
    pub cgroup_id: u64,
    /// Inode number of the opened file (0 for a failed open).
    pub ino: u64,
    /// Thread-group id (user-space pid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Device of the opened file (`major << 20 | minor`; 0 for a failed open).
    pub dev: u32,
    /// The open flags as requested (`O_*`; for openat2 the low 32 bits of
    /// `open_how.flags`); see [`STATUS_ARGS_LOST`].
    pub flags: u32,
    /// The syscall's return value: a file descriptor (>= 0) or `-errno`.
    pub ret: i32,
    /// One of the [`syscall`] ids.
    pub syscall: u32,
    /// The architecture's syscall number.
    pub syscall_nr: u32,
    /// One of the [`matched`] kinds.
    pub matched: u32,
    /// Index of the watched path that matched, in the configuration.
    pub watch: u32,
    /// `STATUS_*` bits, with the walk's `vfs::WALK_*` flags at [`STATUS_WALK_SHIFT`].
    pub status: u32,
    /// Bytes of `resolved` used.
    pub resolved_len: u32,
    /// Task name, NUL padded.
    pub comm: [u8; COMM_LEN],
    /// Length of `path` in bits (bytes × 8, at most `(PATH_MAX_BYTES - 1) * 8`).
    pub path_bits: u32,
    /// The path argument as passed (empty when [`STATUS_ARGS_LOST`]); bytes past
    /// `path_bits / 8` are unspecified.
    pub path: [u8; PATH_MAX_BYTES],
    /// The file's path as the kernel resolves it from the process's root, walked leaf
    /// first (see `crate::vfs`): the opened file's, or, with [`STATUS_RESOLVED_IS_BASE`],
    /// the directory a failed relative open started from. Empty for a failed absolute open.
    pub resolved: [u8; crate::vfs::PATH_BUFFER],
}

/// Size of one [`FileOpenRecord`] in the ring buffer; user space rejects any other length.
pub const FILE_OPEN_RECORD_SIZE: usize = core::mem::size_of::<FileOpenRecord>();
const _: () =
    assert!(FILE_OPEN_RECORD_SIZE == 1624 && core::mem::align_of::<FileOpenRecord>() == 8);
const _: () = assert!(
    core::mem::offset_of!(FileOpenRecord, path_bits) + 4
        == core::mem::offset_of!(FileOpenRecord, path)
);
const _: () = assert!(core::mem::size_of::<OpenArgs>() == 40);
const _: () = assert!(ARG_SLOTS.is_power_of_two() && FILTER_BITS.is_power_of_two());

/// Indexes of the per-CPU stats counters of the `file_open` programs.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileOpenStat {
    /// Events emitted into the ring buffer.
    Emitted = 0,
    /// Ring buffer full: the event is lost.
    RingbufFull = 1,
    /// A read failed: the requested path (or openat2's flags) from user memory, or the
    /// opened file from the descriptor table. That open was not matched (or is reported
    /// without the failed part).
    ReadError = 2,
    /// An exit found no arguments for its open (another thread took the slot, or the
    /// thread moved between enter and exit; where the exit reads the registers: an
    /// unreadable register block): a match is reported without the requested path; a
    /// failed open cannot be matched.
    ArgsLost = 3,
    /// A watched open the kernel-side filters dropped (cgroup or comm).
    Filtered = 4,
    /// The program asked the kernel to wake the reader.
    Wakeup = 5,
    /// A requested path longer than the bytes carried (reported cut).
    Truncated = 6,
    /// A match walk reached its level limit before the filesystem's root.
    WalkDeep = 7,
    /// Inode lookups the inode-number filter let through (the filter's false positives
    /// plus real watched inodes).
    InodeLookups = 8,
    /// Emitted successful opens whose file was read through BTF pointers (the opening
    /// process's descriptor table had not grown past its first 64 slots, or the kernel
    /// casts pointers: `bpf_rdonly_cast`, 6.2+); the others were read through probing
    /// reads.
    TypedMatches = 9,
}

impl FileOpenStat {
    /// Number of counters (size of the stats map).
    pub const COUNT: u32 = 10;
    /// Every counter, in index order.
    pub const ALL: [FileOpenStat; 10] = [
        FileOpenStat::Emitted,
        FileOpenStat::RingbufFull,
        FileOpenStat::ReadError,
        FileOpenStat::ArgsLost,
        FileOpenStat::Filtered,
        FileOpenStat::Wakeup,
        FileOpenStat::Truncated,
        FileOpenStat::WalkDeep,
        FileOpenStat::InodeLookups,
        FileOpenStat::TypedMatches,
    ];
    /// Stable snake_case name, used as the `stat` attribute in self-telemetry.
    pub const fn name(self) -> &'static str {
        match self {
            FileOpenStat::Emitted => "emitted",
            FileOpenStat::RingbufFull => "ringbuf_full",
            FileOpenStat::ReadError => "read_error",
            FileOpenStat::ArgsLost => "args_lost",
            FileOpenStat::Filtered => "filtered",
            FileOpenStat::Wakeup => "wakeup",
            FileOpenStat::Truncated => "truncated",
            FileOpenStat::WalkDeep => "walk_deep",
            FileOpenStat::InodeLookups => "inode_lookups",
            FileOpenStat::TypedMatches => "typed_matches",
        }
    }
}

/// Object-file names of the `kotel-file-open` programs, maps and globals. Program names
/// fit the kernel's 15-byte name limit, so `bpftool prog` shows them whole.
pub mod names {
    /// `syscalls:sys_enter_openat` handler.
    pub const PROG_ENTER_OPENAT: &str = "kotel_openat";
    /// `syscalls:sys_enter_openat2` handler.
    pub const PROG_ENTER_OPENAT2: &str = "kotel_openat2";
    /// `syscalls:sys_enter_open` handler (attached where the syscall exists).
    pub const PROG_ENTER_OPEN: &str = "kotel_open";
    /// `syscalls:sys_enter_creat` handler (attached where the syscall exists).
    pub const PROG_ENTER_CREAT: &str = "kotel_creat";
    /// One handler attached to every `syscalls:sys_exit_*` of the syscalls above.
    pub const PROG_EXIT: &str = "kotel_open_exit";
    /// Tracepoint category of every program.
    pub const CATEGORY: &str = "syscalls";
    /// One open syscall's pair of hooks: its enter program attaches to `enter`,
    /// [`PROG_EXIT`] to `exit` (both in [`CATEGORY`]).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct SyscallHooks {
        /// The syscall (`openat`).
        pub syscall: &'static str,
        /// Its enter program.
        pub enter_program: &'static str,
        /// `sys_enter_<syscall>`.
        pub enter: &'static str,
        /// `sys_exit_<syscall>`.
        pub exit: &'static str,
    }

    /// Every open syscall the source watches; `openat` first (the one every architecture
    /// has).
    pub const HOOKS: [SyscallHooks; 4] = [
        SyscallHooks {
            syscall: "openat",
            enter_program: PROG_ENTER_OPENAT,
            enter: "sys_enter_openat",
            exit: "sys_exit_openat",
        },
        SyscallHooks {
            syscall: "openat2",
            enter_program: PROG_ENTER_OPENAT2,
            enter: "sys_enter_openat2",
            exit: "sys_exit_openat2",
        },
        SyscallHooks {
            syscall: "open",
            enter_program: PROG_ENTER_OPEN,
            enter: "sys_enter_open",
            exit: "sys_exit_open",
        },
        SyscallHooks {
            syscall: "creat",
            enter_program: PROG_ENTER_CREAT,
            enter: "sys_enter_creat",
            exit: "sys_exit_creat",
        },
    ];

    /// Ring buffer of [`super::FileOpenRecord`].
    pub const EVENTS: &str = "KOTEL_FILE_OPEN_EVENTS";
    /// LPM trie: key `{ bits: u32, bytes: [u8; PATH_MAX_BYTES] }` (a watched path, its
    /// length in bits, zero padded) -> [`super::prefix_value`] of the path's index in the
    /// configuration and its length. Matches failed opens (and every open without VFS
    /// offsets) at a component boundary: the byte after the prefix is the end or `/`, or
    /// the prefix ends with `/`.
    pub const PREFIXES: &str = "KOTEL_FILE_OPEN_PREFIXES";
    /// Hash: [`crate::vfs::InodeKey`] -> [`super::Watch`]: the watched inodes, resolved
    /// by the agent in every mount namespace and kept current.
    pub const INODES: &str = "KOTEL_FILE_OPEN_INODES";
    /// Hash: [`super::NameKey`] -> index of the watched file (`u32`).
    pub const NAMES: &str = "KOTEL_FILE_OPEN_NAMES";
    /// Array of [`super::FILTER_ARRAY_WORDS`] `u64`: from [`super::MATCH_FILTER`] and from
    /// [`super::PARENT_FILTER`], bit [`super::filter_bit`]`(ino)` of every watched inode of
    /// those kinds; then the name-length masks [`super::NAME_LENGTHS`],
    /// [`super::DIR_NAME_LENGTHS`] and [`super::PARENT_NAME_LENGTHS`]. A clear bit ends a
    /// check without a hash lookup (or without a read).
    pub const INODE_FILTER: &str = "KOTEL_FILE_OPEN_INODE_FILTER";
    /// Array of [`super::ARG_SLOTS`] [`super::OpenArgs`]: each open's arguments from enter
    /// to exit (one slot, unused, when the exit reads them from [`REGS`]).
    pub const ARGS: &str = "KOTEL_FILE_OPEN_ARGS";
    /// Per-CPU array of one entry: the exit handler's working state, the record under
    /// construction included (kernel only; user space never reads it).
    pub const SCRATCH: &str = "KOTEL_FILE_OPEN_SCRATCH";
    /// Per-CPU array of `u64` counters indexed by [`super::FileOpenStat`].
    pub const STATS: &str = "KOTEL_FILE_OPEN_STATS";

    /// Global `u64`: 0 = wake the reader on every submit; otherwise submit with
    /// `BPF_RB_NO_WAKEUP` and force a wakeup when unread data crosses this many bytes.
    pub const WAKEUP_BYTES: &str = "KOTEL_FILE_OPEN_WAKEUP_BYTES";
    /// Global [`crate::vfs::VfsFields`] of the running kernel.
    pub const VFS_FIELDS: &str = "KOTEL_FILE_OPEN_VFS_FIELDS";
    /// Global `u32`: the agent's own thread-group id (as the kernel numbers it); its
    /// `O_PATH` opens (the resolution of the watched paths) are never reported. 0: none.
    pub const OWN_TGID: &str = "KOTEL_FILE_OPEN_OWN_TGID";
    /// Global [`super::SyscallRegs`]: where the exit reads the arguments itself (`valid ==
    /// 0`: from the argument table the enter programs fill).
    pub const REGS: &str = "KOTEL_FILE_OPEN_REGS";
    /// Global `u32`: the BTF id of `struct file` where the kernel has `bpf_rdonly_cast`
    /// (6.2 and later; the object's placeholder calls are patched to it), else 0: a file
    /// read from a grown descriptor table is then read through probing reads.
    pub const FILE_BTF_ID: &str = "KOTEL_FILE_OPEN_FILE_BTF_ID";
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data, #[repr(C)], every bit pattern valid.
    unsafe impl aya::Pod for super::FileOpenRecord {}
    unsafe impl aya::Pod for super::Watch {}
    unsafe impl aya::Pod for super::NameKey {}
    unsafe impl aya::Pod for super::OpenArgs {}
    unsafe impl aya::Pod for super::SyscallRegs {}
}
