//! Ring-buffer record -> [`FileOpenEvent`].
//!
//! Contract: [`decode`] accepts exactly one `kotel_common::file_open::FileOpenRecord` of
//! exactly [`FILE_OPEN_RECORD_SIZE`] bytes. A shorter record is [`DecodeError::Truncated`], a
//! longer one [`DecodeError::Oversized`] (the kernel object and the agent disagree on the
//! layout: nothing is guessed). An unknown syscall id or match kind, a path length beyond
//! its buffer, a watched-path index beyond the configuration or a return value that is
//! neither a descriptor nor `-errno` is an error too. Errors never panic; the reader counts
//! them as `kotel.source.decode_errors{source="file_open", reason=DecodeError::reason()}`.

use kotel_common::file_open::{
    matched, syscall, FileOpenRecord, FILE_OPEN_RECORD_SIZE, PATH_MAX_BYTES, STATUS_ARGS_LOST,
    STATUS_REQUESTED_TRUNCATED, STATUS_RESOLVED_IS_BASE, STATUS_UNLINKED, STATUS_WALK_SHIFT,
};
use kotel_common::vfs::PATH_BUFFER;

use crate::event::FileOpenEvent;
use crate::kernel::clock::ClockOffset;
use crate::kernel::walked_path::{escaped, WalkedPath};

/// The largest errno the kernel returns (`MAX_ERRNO`): `-errno` values are `-4095..=-1`.
const MAX_ERRNO: i32 = 4095;

/// Why a record could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than a `FileOpenRecord`.
    #[error(
        "record of {0} bytes is shorter than a FileOpenRecord ({FILE_OPEN_RECORD_SIZE} bytes)"
    )]
    Truncated(usize),
    /// More bytes than a `FileOpenRecord` (agent and kernel object disagree on the layout).
    #[error("record of {0} bytes is longer than a FileOpenRecord ({FILE_OPEN_RECORD_SIZE} bytes)")]
    Oversized(usize),
    /// A `syscall` id this build does not know.
    #[error("unknown syscall id {0}")]
    UnknownSyscall(u32),
    /// A `matched` kind this build does not know.
    #[error("unknown match kind {0}")]
    UnknownMatch(u32),
    /// `path_bits` is not a whole number of bytes within the path buffer, or
    /// `resolved_len` exceeds the resolved buffer.
    #[error("path length of {0} bytes does not fit its buffer")]
    BadPathLength(u32),
    /// `watch` is not an index of the configured paths.
    #[error("watched path index {0} is not in the configuration")]
    UnknownWatch(u32),
    /// `ret` below `-MAX_ERRNO`: an open returns a descriptor or `-errno`, nothing else.
    #[error("return value {0} is neither a file descriptor nor -errno")]
    BadReturn(i32),
}

impl DecodeError {
    /// Value of the `reason` label when counting this error.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated(_) => "truncated",
            DecodeError::Oversized(_) => "oversized",
            DecodeError::UnknownSyscall(_) => "unknown_syscall",
            DecodeError::UnknownMatch(_) => "unknown_match",
            DecodeError::BadPathLength(_) => "bad_path_length",
            DecodeError::UnknownWatch(_) => "unknown_watch",
            DecodeError::BadReturn(_) => "bad_return",
        }
    }
}

/// Decodes one ring-buffer record; `watched` are the configured paths, by index.
pub fn decode(
    bytes: &[u8],
    clock: &ClockOffset,
    watched: &[String],
) -> Result<FileOpenEvent, DecodeError> {
    match bytes.len() {
        n if n < FILE_OPEN_RECORD_SIZE => return Err(DecodeError::Truncated(n)),
        n if n > FILE_OPEN_RECORD_SIZE => return Err(DecodeError::Oversized(n)),
        _ => {}
    }
    // SAFETY: exactly size_of::<FileOpenRecord>() bytes; the record is plain old data (any
    // bit pattern is valid) and read_unaligned has no alignment requirement.
    let rec: FileOpenRecord = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    let name = syscall::name(rec.syscall).ok_or(DecodeError::UnknownSyscall(rec.syscall))?;
    let how = matched::name(rec.matched).ok_or(DecodeError::UnknownMatch(rec.matched))?;
    let len = rec.path_bits as usize / 8;
    if !rec.path_bits.is_multiple_of(8) || len >= PATH_MAX_BYTES {
        return Err(DecodeError::BadPathLength(len as u32));
    }
    if rec.resolved_len as usize > PATH_BUFFER {
        return Err(DecodeError::BadPathLength(rec.resolved_len));
    }
    let watched_path = watched
        .get(rec.watch as usize)
        .ok_or(DecodeError::UnknownWatch(rec.watch))?;
    if rec.ret < -MAX_ERRNO {
        return Err(DecodeError::BadReturn(rec.ret));
    }
    let requested = if rec.status & STATUS_ARGS_LOST != 0 {
        String::new()
    } else {
        escaped(&rec.path[..len])
    };
    let requested_cut = rec.status & STATUS_REQUESTED_TRUNCATED != 0;
    let walked = WalkedPath::decode(
        &rec.resolved[..rec.resolved_len as usize],
        rec.status >> STATUS_WALK_SHIFT,
        rec.ret >= 0 || rec.status & STATUS_RESOLVED_IS_BASE != 0,
    );
    let (path, path_truncated) = if rec.ret >= 0 {
        (walked.path, walked.truncated)
    } else if rec.status & STATUS_RESOLVED_IS_BASE != 0 {
        (
            format!("{}/{requested}", walked.path.trim_end_matches('/')),
            walked.truncated || requested_cut,
        )
    } else {
        (requested.clone(), requested_cut)
    };
    let device = if rec.ret >= 0 {
        format!("{}:{}", rec.dev >> 20, rec.dev & 0xf_ffff)
    } else {
        String::new()
    };
    Ok(FileOpenEvent {
        workload: None,
        time_unix_nano: clock.unix_nanos(rec.timestamp_ns),
        pid: rec.pid,
        tid: rec.tid,
        comm: escaped(&rec.comm),
        cgroup_id: rec.cgroup_id,
        path,
        path_truncated,
        path_detached: walked.detached,
        requested_path: requested,
        requested_path_truncated: requested_cut,
        flags: rec.flags,
        access: access_names(rec.flags),
        errno: if rec.ret < 0 { -rec.ret } else { 0 },
        syscall: name.to_string(),
        matched: how.to_string(),
        watched_path: watched_path.clone(),
        inode: if rec.ret >= 0 { rec.ino } else { 0 },
        device,
        unlinked: rec.status & STATUS_UNLINKED != 0,
    })
}

/// Names of the access mode and notable flags of raw open flags, in this order: `read`,
/// `write` or `read_write` (or `path` for `O_PATH`, which opens no content), then `create`,
/// `truncate`, `append`, `tmpfile` when set. Access mode 3 (no read or write, both
/// permissions checked) is reported as `read_write`.
pub fn access_names(flags: u32) -> Vec<String> {
    let f = flags as i32;
    let mode = if f & libc::O_PATH != 0 {
        "path"
    } else {
        match f & libc::O_ACCMODE {
            libc::O_RDONLY => "read",
            libc::O_WRONLY => "write",
            _ => "read_write",
        }
    };
    let mut names = vec![mode.to_string()];
    for (bit, name) in [
        (libc::O_CREAT, "create"),
        (libc::O_TRUNC, "truncate"),
        (libc::O_APPEND, "append"),
    ] {
        if f & bit != 0 {
            names.push(name.to_string());
        }
    }
    if f & libc::O_TMPFILE == libc::O_TMPFILE {
        names.push("tmpfile".to_string());
    }
    names
}

#[cfg(test)]
#[path = "decode_tests.rs"]
pub(crate) mod tests;
