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
//! (`args` is then empty). Bytes that are not UTF-8 are replaced (lossy).

use kotel_common::exec::{
    ExecRecord, EXEC_RECORD_SIZE, FLAG_ARGS_TRUNCATED, FLAG_ARGS_UNREAD, FLAG_PATH_TRUNCATED,
};

use crate::event::ExecEvent;
use crate::kernel::clock::ClockOffset;

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
    Ok(ExecEvent {
        workload: None,
        time_unix_nano: clock.unix_nanos(rec.timestamp_ns),
        pid: rec.pid,
        ppid: rec.ppid,
        uid: rec.uid,
        cgroup_id: rec.cgroup_id,
        comm: text(until_nul(&rec.comm)),
        path: text(path),
        args: split_args(args),
        args_truncated: rec.flags & (FLAG_ARGS_TRUNCATED | FLAG_ARGS_UNREAD) != 0,
        path_truncated: rec.flags & FLAG_PATH_TRUNCATED != 0,
    })
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
