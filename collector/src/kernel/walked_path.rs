//! Paths the kernel programs walked up from a dentry (`kotel_common::vfs`): components leaf
//! first, each NUL-terminated, turned back into an absolute path.
//!
//! Contract: [`WalkedPath::decode`] never fails: components are reversed and joined under
//! `/`; bytes that are not UTF-8 are kept as `\xNN` escapes ([`escaped`]); the walk's flags
//! say whether the root end is missing (`truncated`), whether the path is relative to a
//! mount attached nowhere the process can see (`detached`: a memfd, a pipe, another
//! namespace's file), and whether a read failed on the way (`incomplete`).

use kotel_common::vfs::{WALK_DETACHED, WALK_READ_ERROR, WALK_TRUNCATED};

/// A path as the kernel resolved it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalkedPath {
    /// Absolute path (`/` for the root itself); empty when nothing was walked.
    pub path: String,
    /// The walk stopped before the root (too long, or a read failed): `path` lacks the
    /// components at its root end.
    pub truncated: bool,
    /// The walk ended at a mount attached nowhere under the process's root.
    pub detached: bool,
}

impl WalkedPath {
    /// The path of `bytes` (the walked components, `len` bytes used) under `flags`
    /// (`WALK_*`). `walked` is false when no walk happened (an empty path, not `/`).
    pub fn decode(bytes: &[u8], flags: u32, walked: bool) -> Self {
        if !walked {
            return Self::default();
        }
        let mut components: Vec<String> = bytes
            .split(|&b| b == 0)
            .filter(|c| !c.is_empty() && *c != b"/")
            .map(escaped)
            .collect();
        components.reverse();
        Self {
            path: format!("/{}", components.join("/")),
            truncated: flags & (WALK_TRUNCATED | WALK_READ_ERROR) != 0,
            detached: flags & WALK_DETACHED != 0,
        }
    }
}

/// Bytes up to the first NUL as text; bytes that are not UTF-8 are kept as `\xNN` escapes
/// (a path is bytes, and a security event must not hide which ones).
pub fn escaped(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let mut out = String::with_capacity(end);
    for chunk in bytes[..end].utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "walked_path_tests.rs"]
mod tests;
