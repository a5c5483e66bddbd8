//! `exec` source records, shared by the kernel program (`kotel-exec`) and the agent.
//!
//! One [`ExecRecord`] per successful exec, written at `sched_process_exec` (which fires
//! only once the new image is committed). argv is read there from the new process's
//! own memory (`mm->arg_start..arg_end`, the NUL-separated block `/proc/PID/cmdline`
//! shows), so the program keeps no per-process state between tracepoints.

/// Length of the `comm` field (the kernel's `TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;
/// Bytes of the executed path kept (`bprm->filename`, without its NUL). Longer paths are
/// cut and flagged [`FLAG_PATH_TRUNCATED`].
pub const PATH_BYTES: usize = 256;
/// Bytes of argv kept: the arguments as the kernel laid them out, each followed by a NUL.
/// A longer argv is cut at this byte (possibly inside an argument) and flagged
/// [`FLAG_ARGS_TRUNCATED`].
pub const ARGS_BYTES: usize = 2048;

/// `flags` bit: argv was longer than [`ARGS_BYTES`]; `args` holds its first bytes.
pub const FLAG_ARGS_TRUNCATED: u32 = 1;
/// `flags` bit: the path was longer than [`PATH_BYTES`]; `path` holds its first bytes.
pub const FLAG_PATH_TRUNCATED: u32 = 2;
/// `flags` bit: argv could not be read (offsets unknown or the read failed); `args_len`
/// is 0.
pub const FLAG_ARGS_UNREAD: u32 = 4;
/// `flags` bit: the executable file has no link left (`i_nlink == 0`: deleted after it
/// started, or created with `O_TMPFILE`).
pub const FLAG_EXE_UNLINKED: u32 = 8;
/// `flags` bit: the exec ran a script: `interp` holds the interpreter named by its `#!`
/// line (`bprm->interp`) and the executable is that interpreter; `path` is the script.
pub const FLAG_SCRIPT: u32 = 16;
/// `flags` bit: whether the exec ran a script is unknown (the classic tracepoint does not
/// show the `linux_binprm`).
pub const FLAG_SCRIPT_UNKNOWN: u32 = 32;
/// Shift of the executable path walk's `vfs::WALK_*` flags inside `flags`.
pub const FLAG_EXE_WALK_SHIFT: u32 = 8;
/// Shift of the working directory walk's `vfs::WALK_*` flags inside `flags`.
pub const FLAG_CWD_WALK_SHIFT: u32 = 16;
/// `flags` bit (with [`FLAG_EXE_WALK_SHIFT`]'s byte all zero): no walk happened for the
/// executable (no VFS offsets, or `mm->exe_file` unreadable).
pub const FLAG_EXE_UNWALKED: u32 = 1 << 24;
/// `flags` bit: no walk happened for the working directory.
pub const FLAG_CWD_UNWALKED: u32 = 1 << 25;
/// Bytes of the interpreter name kept (`bprm->interp`, NUL-terminated).
pub const INTERP_BYTES: usize = 256;

/// One successful exec, as written by the kernel into the ring buffer. Only the first
/// `path_len` bytes of `path` and `args_len` bytes of `args` are meaningful; the bytes
/// after them are unspecified (the program does not spend time clearing them).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecRecord {
    /// Monotonic timestamp (ns, `bpf_ktime_get_ns`).
    pub timestamp_ns: u64,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// Thread-group id (user-space pid) after the exec.
    pub pid: u32,
    /// `real_parent->tgid`; 0 when unknown (no BTF offsets, or the read failed).
    pub ppid: u32,
    /// Real user id (init user namespace).
    pub uid: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Meaningful bytes of `path` (at most [`PATH_BYTES`]).
    pub path_len: u32,
    /// Meaningful bytes of `args` (at most [`ARGS_BYTES`]).
    pub args_len: u32,
    /// Task name after the exec (the new binary's base name), NUL padded.
    pub comm: [u8; COMM_LEN],
    /// The path passed to exec (`bprm->filename`), not NUL terminated.
    pub path: [u8; PATH_BYTES],
    /// argv: every argument followed by a NUL; the last one cut when truncated.
    pub args: [u8; ARGS_BYTES],
    /// Inode number of the executable file (0 when unread).
    pub exe_ino: u64,
    /// Device of the executable file (`major << 20 | minor`).
    pub exe_dev: u32,
    /// Bytes of `exe` used.
    pub exe_len: u32,
    /// Bytes of `cwd` used.
    pub cwd_len: u32,
    /// Padding (zero).
    pub _pad: u32,
    /// The executable file's path as the kernel resolves it from the process's root
    /// (`mm->exe_file`), walked leaf first (see `crate::vfs`).
    pub exe: [u8; crate::vfs::PATH_BUFFER],
    /// The working directory, walked the same way.
    pub cwd: [u8; crate::vfs::PATH_BUFFER],
    /// With [`FLAG_SCRIPT`]: the interpreter the script's `#!` line names, NUL-terminated.
    pub interp: [u8; INTERP_BYTES],
}

/// Size of one [`ExecRecord`] in the ring buffer; user space rejects records of any other
/// length.
pub const EXEC_RECORD_SIZE: usize = core::mem::size_of::<ExecRecord>();
const _: () = assert!(EXEC_RECORD_SIZE == 5200 && core::mem::align_of::<ExecRecord>() == 8);

/// Byte offsets inside kernel structs, read from the running kernel's BTF by the agent and
/// set as a global before the program loads (the verifier sees them as constants). The
/// BTF program needs all of them; the classic tracepoint program uses the first five for
/// ppid and argv. `valid == 0` means unknown: ppid is 0 and argv is flagged unread.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskOffsets {
    /// Non-zero when the offsets below were resolved.
    pub valid: u32,
    /// `struct task_struct.real_parent` (a `struct task_struct *`).
    pub task_real_parent: u32,
    /// `struct task_struct.tgid` (`pid_t`).
    pub task_tgid: u32,
    /// `struct task_struct.mm` (a `struct mm_struct *`).
    pub task_mm: u32,
    /// `struct mm_struct.arg_start` (`unsigned long`, a user address).
    pub mm_arg_start: u32,
    /// `struct mm_struct.arg_end` (`unsigned long`, a user address).
    pub mm_arg_end: u32,
    /// `struct task_struct.comm` (`char[16]`).
    pub task_comm: u32,
    /// `struct task_struct.real_cred` (a `const struct cred *`).
    pub task_real_cred: u32,
    /// `struct cred.uid` (`kuid_t`: the uid in the initial user namespace).
    pub cred_uid: u32,
    /// `struct linux_binprm.filename` (a `const char *`).
    pub bprm_filename: u32,
    /// `struct linux_binprm.interp` (a `const char *`; the filename's own pointer unless a
    /// binary handler such as `#!` scripts changed it).
    pub bprm_interp: u32,
    /// `struct mm_struct.exe_file` (a `struct file *`).
    pub mm_exe_file: u32,
}

/// When the program wakes the ring buffer's reader. A wakeup costs ~16 µs of kernel time
/// on a VM, and asking the ring how much is unread (`bpf_ringbuf_query`) ~100 ns (a cache
/// miss), so by default records are submitted without a wakeup (the reader polls on a
/// timer) and the backlog is checked only on every `check_every`-th record of a CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wakeup {
    /// 0: the kernel's default policy (a wakeup for every record submitted while the reader
    /// is caught up: about one per exec). Otherwise: no wakeup, except a forced one when a
    /// check finds at least this many unread bytes.
    pub bytes: u64,
    /// Check the backlog on every n-th record of each CPU (at least 1).
    pub check_every: u64,
}

/// Indexes of the per-CPU stats counters of the `exec` program.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecStat {
    /// Records emitted into the ring buffer.
    Emitted = 0,
    /// Ring buffer full: reserve failed, the exec is lost.
    RingbufFull = 1,
    /// An exec the kernel-side filters dropped (cgroup or comm).
    Filtered = 2,
    /// argv could not be read (emitted without it, flagged).
    ArgsUnread = 3,
    /// argv was longer than [`ARGS_BYTES`] (emitted cut, flagged).
    ArgsTruncated = 4,
    /// The parent's pid could not be read (emitted with ppid 0).
    PpidUnknown = 5,
    /// The program asked the kernel to wake the reader (a check found the backlog at or
    /// above [`Wakeup::bytes`]); not counted under the default policy (`bytes == 0`).
    Wakeup = 6,
}

impl ExecStat {
    /// Number of counters (size of the stats map).
    pub const COUNT: u32 = 7;
    /// Every counter, in index order.
    pub const ALL: [ExecStat; 7] = [
        ExecStat::Emitted,
        ExecStat::RingbufFull,
        ExecStat::Filtered,
        ExecStat::ArgsUnread,
        ExecStat::ArgsTruncated,
        ExecStat::PpidUnknown,
        ExecStat::Wakeup,
    ];
    /// Stable snake_case name, the `stat` attribute in self-telemetry.
    pub const fn name(self) -> &'static str {
        match self {
            ExecStat::Emitted => "emitted",
            ExecStat::RingbufFull => "ringbuf_full",
            ExecStat::Filtered => "filtered",
            ExecStat::ArgsUnread => "args_unread",
            ExecStat::ArgsTruncated => "args_truncated",
            ExecStat::PpidUnknown => "ppid_unknown",
            ExecStat::Wakeup => "wakeup",
        }
    }
}

/// Object-file names of the `exec` source's programs, maps and globals.
pub mod names {
    /// BTF tracepoint (`tp_btf`) handler of `sched_process_exec`: reads the task directly
    /// (preferred, needs the kernel's BTF).
    pub const PROGRAM_BTF: &str = "kotel_exec_btf";
    /// Classic tracepoint handler of `sched:sched_process_exec`: helpers and probing reads
    /// (fallback).
    pub const PROGRAM: &str = "kotel_exec";
    /// Tracepoint category [`PROGRAM`] attaches to.
    pub const CATEGORY: &str = "sched";
    /// Tracepoint name [`PROGRAM`] attaches to, and the BTF tracepoint [`PROGRAM_BTF`]
    /// loads against.
    pub const TRACEPOINT: &str = "sched_process_exec";
    /// Ring buffer carrying [`super::ExecRecord`]s to user space.
    pub const EVENTS: &str = "KOTEL_EXEC_EVENTS";
    /// Per-CPU array of `u64` counters indexed by [`super::ExecStat`].
    pub const STATS: &str = "KOTEL_EXEC_STATS";
    /// Global [`super::TaskOffsets`] of the running kernel.
    pub const TASK_OFFSETS: &str = "KOTEL_EXEC_TASK_OFFSETS";
    /// Global [`super::Wakeup`]: when the program wakes the reader.
    pub const WAKEUP: &str = "KOTEL_EXEC_WAKEUP";
    /// Global [`crate::vfs::VfsFields`] of the running kernel (paths of the executable and
    /// the working directory).
    pub const VFS_FIELDS: &str = "KOTEL_EXEC_VFS_FIELDS";
    /// Per-CPU array of one entry: the program's scratch for VFS reads (kernel only).
    pub const SCRATCH: &str = "KOTEL_EXEC_SCRATCH";
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data, #[repr(C)], every bit pattern valid.
    unsafe impl aya::Pod for super::ExecRecord {}
    unsafe impl aya::Pod for super::TaskOffsets {}
    unsafe impl aya::Pod for super::Wakeup {}
}
