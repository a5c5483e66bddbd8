//! The established TCP connections of the node's processes, from `/proc`: each process's
//! socket descriptors (`/proc/<pid>/fd/*` -> `socket:[inode]`) joined with its network
//! namespace's tables (`/proc/<pid>/net/tcp` and `tcp6`, read once per namespace).
//!
//! Contract: [`established`] never fails as a whole: a process that exits meanwhile, a
//! table or descriptor that cannot be read, or a line that does not parse is skipped.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// One descriptor of an established TCP connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The process.
    pub tgid: u32,
    /// Its descriptor for the socket.
    pub fd: u32,
    /// The socket's inode (the same for every descriptor of one socket).
    pub inode: u64,
    /// Its task name.
    pub comm: String,
    /// The socket's address.
    pub local: SocketAddr,
    /// The other end's.
    pub peer: SocketAddr,
    /// Whether the local port is one its namespace listens on (an accepted connection).
    pub accepted: bool,
}

/// What one namespace's tables say.
#[derive(Default)]
pub struct Table {
    /// Established sockets by inode: (local, peer).
    pub established: HashMap<u64, (SocketAddr, SocketAddr)>,
    /// Ports some socket listens on.
    pub listening: HashSet<u16>,
}

const ESTABLISHED: &str = "01";
const LISTEN: &str = "0A";

impl Table {
    /// Adds the lines of a `/proc/net/tcp` or `tcp6` file.
    pub fn add(&mut self, text: &str) {
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(peer), Some(state), Some(inode)) = (
                fields.get(1).and_then(|a| address(a)),
                fields.get(2).and_then(|a| address(a)),
                fields.get(3),
                fields.get(9).and_then(|i| i.parse::<u64>().ok()),
            ) else {
                continue;
            };
            match *state {
                ESTABLISHED if inode != 0 => {
                    self.established.insert(inode, (local, peer));
                }
                LISTEN => {
                    self.listening.insert(local.port());
                }
                _ => {}
            }
        }
    }
}

/// `0100007F:1F90` (IPv4) or 32 hex digits `:PORT` (IPv6): each 32-bit word as the
/// kernel prints it, in the machine's byte order.
fn address(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(ip)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&word(ip.get(8 * i..8 * i + 8)?)?);
            }
            let v6 = Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The socket inode of a descriptor's link target (`socket:[12345]`).
fn socket_inode(target: &Path) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Every descriptor of an established TCP connection under `proc`, but those of
/// `skip_tgid`, at most `limit`.
pub fn established(proc: &Path, skip_tgid: u32, limit: usize) -> Vec<Connection> {
    let mut tables: HashMap<String, Table> = HashMap::new();
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(proc) else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(tgid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if tgid == skip_tgid {
            continue;
        }
        let dir = entry.path();
        let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
            continue;
        };
        let sockets: Vec<(u32, u64)> = fds
            .flatten()
            .filter_map(|fd| {
                let number = fd.file_name().to_str()?.parse().ok()?;
                Some((number, socket_inode(&std::fs::read_link(fd.path()).ok()?)?))
            })
            .collect();
        if sockets.is_empty() {
            continue;
        }
        let Some(netns) = std::fs::read_link(dir.join("ns/net"))
            .ok()
            .and_then(|p| p.to_str().map(String::from))
        else {
            continue;
        };
        let table = tables.entry(netns).or_insert_with(|| {
            let mut table = Table::default();
            for file in ["net/tcp", "net/tcp6"] {
                if let Ok(text) = std::fs::read_to_string(dir.join(file)) {
                    table.add(&text);
                }
            }
            table
        });
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        for (fd, inode) in sockets {
            let Some(&(local, peer)) = table.established.get(&inode) else {
                continue;
            };
            out.push(Connection {
                tgid,
                fd,
                inode,
                comm: comm.trim_end().to_string(),
                local,
                peer,
                accepted: table.listening.contains(&local.port()),
            });
            if out.len() >= limit {
                return out;
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "tcp_table_tests.rs"]
mod tests;
