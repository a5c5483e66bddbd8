//! `file_open` source records (shared with the kernel program `kotel-file-open`).
//!
//! Contract: at `sys_enter_{openat,openat2,open,creat}` the program reads the path argument
//! (at most [`PATH_MAX_BYTES`] bytes, no resolution) into a [`FileOpenRecord`] and looks it up
//! in an LPM trie of watched prefixes. Only a hit is remembered per thread;
//! at `sys_exit_*` the remembered record gets the return value and goes to the ring buffer.

/// Length of the `comm` field (the kernel's `TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;

/// Bytes of path the kernel reads and carries: longer paths are cut (`path_truncated`) and
/// matched on their first `PATH_MAX_BYTES - 1` bytes. 256 is also the LPM trie's key limit.
pub const PATH_MAX_BYTES: usize = 256;
/// Longest watched prefix in bytes (one byte of the buffer holds the string's NUL).
pub const MAX_PREFIX_LEN: usize = PATH_MAX_BYTES - 1;
/// Most watched prefixes (entries of the LPM trie).
pub const MAX_PREFIXES: u32 = 1024;
/// Most watched opens in flight at once (threads between enter and exit). The map is an
/// LRU: beyond this, the oldest in-flight opens are evicted and never reported.
pub const MAX_PENDING: u32 = 4096;

/// Which syscall made the open, as carried in [`FileOpenRecord::syscall`]. Values are stable.
pub mod syscall {
    /// `openat(2)`.
    pub const OPENAT: u32 = 1;
    /// `openat2(2)`; flags come from `struct open_how`.
    pub const OPENAT2: u32 = 2;
    /// `open(2)` (x86_64 and a few other architectures).
    pub const OPEN: u32 = 3;
    /// `creat(2)`: flags are reported as `O_CREAT|O_WRONLY|O_TRUNC`.
    pub const CREAT: u32 = 4;

    /// snake_case name of a syscall id, `None` for an id this build does not know.
    pub const fn name(id: u32) -> Option<&'static str> {
        Some(match id {
            OPENAT => "openat",
            OPENAT2 => "openat2",
            OPEN => "open",
            CREAT => "creat",
            _ => return None,
        })
    }
}

/// One open of a watched path, as written by the kernel into the ring buffer.
///
/// `path_bits` directly precedes `path`, so `path_bits..` is an LPM trie key
/// (`{ prefix_len: u32, data: [u8; PATH_MAX_BYTES] }`) in place: the program looks the path
/// up without copying it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileOpenRecord {
    /// Monotonic time (ns, `bpf_ktime_get_ns`) of the syscall's return.
    pub timestamp_ns: u64,
    /// cgroup v2 id of the opening process.
    pub cgroup_id: u64,
    /// Thread-group id (user-space pid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// The raw open flags (`O_*`; for openat2 the low 32 bits of `open_how.flags`).
    pub flags: u32,
    /// The syscall's return value: a file descriptor (>= 0) or `-errno`.
    pub ret: i32,
    /// One of the [`syscall`] ids.
    pub syscall: u32,
    /// The architecture's syscall number (the exit handler checks it against its own).
    pub syscall_nr: u32,
    /// Non-zero when the path was longer than the `PATH_MAX_BYTES - 1` bytes carried.
    pub path_truncated: u32,
    /// Task name, NUL padded.
    pub comm: [u8; COMM_LEN],
    /// Length of `path` in bits (bytes × 8, at most `(PATH_MAX_BYTES - 1) * 8`).
    pub path_bits: u32,
    /// The path argument as passed; bytes past `path_bits / 8` are unspecified.
    pub path: [u8; PATH_MAX_BYTES],
}

/// Size of one [`FileOpenRecord`] in the ring buffer; user space rejects any other length.
pub const FILE_OPEN_RECORD_SIZE: usize = core::mem::size_of::<FileOpenRecord>();
const _: () = assert!(FILE_OPEN_RECORD_SIZE == 320 && core::mem::align_of::<FileOpenRecord>() == 8);
const _: () = assert!(core::mem::offset_of!(FileOpenRecord, path) == 64);
const _: () = assert!(core::mem::offset_of!(FileOpenRecord, path_bits) + 4 == 64);

/// Indexes of the per-CPU stats counters of the `file_open` programs.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileOpenStat {
    /// Events emitted into the ring buffer.
    Emitted = 0,
    /// Ring buffer full: the event is lost.
    RingbufFull = 1,
    /// Reading the path (or openat2's flags) from user memory failed; the open was not
    /// matched. Happens for bad pointers and for paths not resident in memory.
    ReadError = 2,
    /// Inserting a watched open into the in-flight map failed (the LRU map normally
    /// evicts instead, silently).
    PendingFull = 3,
    /// A watched open the kernel-side filters dropped (cgroup or comm).
    Filtered = 4,
    /// The program asked the kernel to wake the reader.
    Wakeup = 5,
    /// A watched path longer than the bytes carried (reported cut, `path_truncated`).
    Truncated = 6,
    /// An exit found a remembered open of another syscall (a lost exit); it was dropped.
    Orphaned = 7,
}

impl FileOpenStat {
    /// Number of counters (size of the stats map).
    pub const COUNT: u32 = 8;
    /// Every counter, in index order.
    pub const ALL: [FileOpenStat; 8] = [
        FileOpenStat::Emitted,
        FileOpenStat::RingbufFull,
        FileOpenStat::ReadError,
        FileOpenStat::PendingFull,
        FileOpenStat::Filtered,
        FileOpenStat::Wakeup,
        FileOpenStat::Truncated,
        FileOpenStat::Orphaned,
    ];
    /// Stable snake_case name, used as the `stat` attribute in self-telemetry.
    pub const fn name(self) -> &'static str {
        match self {
            FileOpenStat::Emitted => "emitted",
            FileOpenStat::RingbufFull => "ringbuf_full",
            FileOpenStat::ReadError => "read_error",
            FileOpenStat::PendingFull => "pending_full",
            FileOpenStat::Filtered => "filtered",
            FileOpenStat::Wakeup => "wakeup",
            FileOpenStat::Truncated => "truncated",
            FileOpenStat::Orphaned => "orphaned",
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
    /// LPM trie: key `{ bits: u32, bytes: [u8; PATH_MAX_BYTES] }` (a prefix, its length in
    /// bits, zero padded) -> the prefix's index in the configuration (`u32`). Written
    /// before the programs attach.
    pub const PREFIXES: &str = "KOTEL_FILE_OPEN_PREFIXES";
    /// LRU hash: thread id (`u32`) -> [`super::FileOpenRecord`] between enter and exit.
    pub const PENDING: &str = "KOTEL_FILE_OPEN_PENDING";
    /// Per-CPU array of one [`super::FileOpenRecord`]: the enter handlers' scratch.
    pub const SCRATCH: &str = "KOTEL_FILE_OPEN_SCRATCH";
    /// Per-CPU array of `u64` counters indexed by [`super::FileOpenStat`].
    pub const STATS: &str = "KOTEL_FILE_OPEN_STATS";

    /// Global `u64`: 0 = wake the reader on every submit; otherwise submit with
    /// `BPF_RB_NO_WAKEUP` and force a wakeup when unread data crosses this many bytes.
    pub const WAKEUP_BYTES: &str = "KOTEL_FILE_OPEN_WAKEUP_BYTES";
}

#[cfg(feature = "user")]
// SAFETY: plain-old-data, #[repr(C)], every bit pattern valid.
unsafe impl aya::Pod for FileOpenRecord {}
