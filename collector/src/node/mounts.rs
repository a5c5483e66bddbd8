//! The node's mount table, as this process sees it (`/proc/self/mountinfo`): the one
//! parser every layer uses (cgroup hierarchies, bpffs, tracefs).

use std::io;
use std::path::{Path, PathBuf};

/// One line of `/proc/<pid>/mountinfo`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The directory of the filesystem mounted here (`/` for its whole tree), escapes
    /// decoded.
    pub root: String,
    /// Where it is mounted, escapes decoded.
    pub mount_point: PathBuf,
    /// The filesystem type (`cgroup2`, `bpf`, `tracefs`).
    pub fs_type: String,
    /// The super-block options (`rw,memory` for a cgroup v1 hierarchy).
    pub super_options: String,
}

/// Parses mountinfo text; unparsable lines are skipped. Format:
/// `id parent major:minor root mount_point options [optional...] - fstype source super`.
pub fn parse(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let sep = fields.iter().position(|f| *f == "-").filter(|s| *s >= 6)?;
    Some(Mount {
        root: unescape(fields[3]),
        mount_point: PathBuf::from(unescape(fields[4])),
        fs_type: fields.get(sep + 1)?.to_string(),
        super_options: fields.get(sep + 3).copied().unwrap_or("").to_string(),
    })
}

/// This process's mount table.
pub fn read() -> io::Result<Vec<Mount>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

/// The type of the filesystem mounted exactly at `path` (the last mount there), if any.
pub fn fs_type_at(path: &Path) -> Option<String> {
    read()
        .ok()?
        .into_iter()
        .rev()
        .find(|m| m.mount_point == path)
        .map(|m| m.fs_type)
}

/// Decodes the octal escapes the kernel writes in mount tables (`/proc/self/mounts`,
/// `mountinfo`): `\040` space, `\011` tab, `\012` newline, `\134` backslash.
pub fn unescape(s: &str) -> String {
    let (b, mut out, mut i) = (s.as_bytes(), Vec::with_capacity(s.len()), 0);
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match oct.map(|d| d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'))) {
            Some(v) if v <= 0xff => {
                out.push(v as u8);
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;
