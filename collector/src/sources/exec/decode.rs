//! Ring-buffer record -> [`ExecEvent`].
//!
//! Contract: [`decode`] accepts exactly one `kotel_common::exec::ExecRecord` of exactly
//! [`EXEC_RECORD_SIZE`] bytes. A shorter record is [`DecodeError::Truncated`], a longer one
//! [`DecodeError::Oversized`] (agent and kernel object disagree on the layout; it is not
//! read by its prefix), and lengths beyond their buffers are [`DecodeError::BadLength`].
//! Errors never panic; the reader counts them as
//! `kotel.source.decode_errors{source="exec", reason=DecodeError::reason()}`.
//!
//! argv becomes one string per NUL-terminated argument; when the kernel cut argv at its
//! byte budget the unterminated tail is kept as a final (cut) argument and
//! `args_truncated` is set. It is also set when the kernel could not read argv at all
//! (`args` is then empty). Argument bytes that are not UTF-8 are replaced (lossy); paths
//! keep them as `\xNN` escapes. The executable's path and the working directory are the
//! kernel's walks (`kernel::walked_path`); `executable_kind` says what the file is.

use kotel_common::exec::{
    ExecRecord, EXEC_RECORD_SIZE, FLAG_ARGS_TRUNCATED, FLAG_ARGS_UNREAD, FLAG_CWD_UNWALKED,
    FLAG_CWD_WALK_SHIFT, FLAG_EXE_UNLINKED, FLAG_EXE_UNWALKED, FLAG_EXE_WALK_SHIFT,
    FLAG_PATH_TRUNCATED, FLAG_SCRIPT,
};

use crate::event::ExecEvent;
use crate::kernel::clock::ClockOffset;
use crate::kernel::walked_path::{escaped, WalkedPath};

/// Why a record could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than an `ExecRecord`.
    #[error("record of {0} bytes is shorter than an ExecRecord ({EXEC_RECORD_SIZE} bytes)")]
    Truncated(usize),
    /// More bytes than an `ExecRecord` (agent and kernel object disagree on the layout).
    #[error("record of {0} bytes is longer than an ExecRecord ({EXEC_RECORD_SIZE} bytes)")]
    Oversized(usize),
    /// `path_len` or `args_len` larger than its buffer.
    #[error("{field} of {len} exceeds its {max}-byte buffer")]
    BadLength {
        /// `path_len` or `args_len`.
        field: &'static str,
        /// The value in the record.
        len: u32,
        /// The buffer's size.
        max: usize,
    },
}

impl DecodeError {
    /// Value of the `reason` label when counting this error.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated(_) => "truncated",
            DecodeError::Oversized(_) => "oversized",
            DecodeError::BadLength { .. } => "bad_length",
        }
    }
}

/// Decodes one ring-buffer record.
pub fn decode(bytes: &[u8], clock: &ClockOffset) -> Result<ExecEvent, DecodeError> {
    match bytes.len() {
        n if n < EXEC_RECORD_SIZE => return Err(DecodeError::Truncated(n)),
        n if n > EXEC_RECORD_SIZE => return Err(DecodeError::Oversized(n)),
        _ => {}
    }
    // SAFETY: exactly size_of::<ExecRecord>() bytes; ExecRecord is plain old data (any bit
    // pattern is valid) and read_unaligned has no alignment requirement.
    let rec: ExecRecord = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    let path = prefix(&rec.path, rec.path_len, "path_len")?;
    let args = prefix(&rec.args, rec.args_len, "args_len")?;
    let exe = prefix(&rec.exe, rec.exe_len, "exe_len")?;
    let cwd = prefix(&rec.cwd, rec.cwd_len, "cwd_len")?;
    let walked = |bytes, shift, unwalked| {
        WalkedPath::decode(
            bytes,
            (rec.flags >> shift) & 0xff,
            rec.flags & unwalked == 0,
        )
    };
    let exe = walked(exe, FLAG_EXE_WALK_SHIFT, FLAG_EXE_UNWALKED);
    let cwd = walked(cwd, FLAG_CWD_WALK_SHIFT, FLAG_CWD_UNWALKED);
    let path = escaped(path);
    let script = rec.flags & FLAG_SCRIPT != 0;
    Ok(ExecEvent {
        workload: None,
        time_unix_nano: clock.unix_nanos(rec.timestamp_ns),
        pid: rec.pid,
        ppid: rec.ppid,
        uid: rec.uid,
        cgroup_id: rec.cgroup_id,
        comm: text(until_nul(&rec.comm)),
        script: if script {
            joined(&cwd.path, &path)
        } else {
            String::new()
        },
        interpreter: if script {
            escaped(&rec.interp)
        } else {
            String::new()
        },
        path,
        args: split_args(args),
        args_truncated: rec.flags & (FLAG_ARGS_TRUNCATED | FLAG_ARGS_UNREAD) != 0,
        path_truncated: rec.flags & FLAG_PATH_TRUNCATED != 0,
        executable_kind: executable_kind(&exe, rec.flags),
        executable: exe.path,
        executable_truncated: exe.truncated,
        executable_inode: rec.exe_ino,
        working_directory: cwd.path,
    })
}

/// `process.executable.kind` of a walked executable path (empty when none was walked).
fn executable_kind(exe: &WalkedPath, flags: u32) -> String {
    let kind = if exe.path.is_empty() {
        ""
    } else if exe.detached && exe.path.starts_with("/memfd:") {
        "memfd"
    } else if flags & FLAG_EXE_UNLINKED != 0 {
        "deleted"
    } else if exe.detached {
        "detached"
    } else {
        "file"
    };
    kind.to_string()
}

/// `path` when absolute, else `path` under `dir` (lexically; `dir` empty: `path` as is).
fn joined(dir: &str, path: &str) -> String {
    if path.starts_with('/') || dir.is_empty() {
        path.to_string()
    } else {
        format!(
            "{}/{}",
            dir.trim_end_matches('/'),
            path.trim_start_matches("./")
        )
    }
}

/// The first `len` bytes of `buf`, or `BadLength` when `len` exceeds it.
fn prefix<'a>(buf: &'a [u8], len: u32, field: &'static str) -> Result<&'a [u8], DecodeError> {
    buf.get(..len as usize).ok_or(DecodeError::BadLength {
        field,
        len,
        max: buf.len(),
    })
}

/// The NUL-separated argv block as arguments: each NUL ends one; an unterminated tail (argv
/// cut by the kernel's budget) is a final argument of its own.
pub fn split_args(block: &[u8]) -> Vec<String> {
    let mut args: Vec<String> = block.split(|&b| b == 0).map(text).collect();
    // `split` yields an empty piece after a final NUL (and for an empty block).
    if block.last().is_none_or(|&b| b == 0) {
        args.pop();
    }
    args
}

fn until_nul(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
#[path = "decode_tests.rs"]
pub(crate) mod tests;
