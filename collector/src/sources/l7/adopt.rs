//! Connections open before the source attached. The kernel programs learn of a socket
//! only at its `connect` or `accept`, which for a long-lived keep-alive connection (a
//! client's pool, a proxy's upstreams) may be days before the agent starts. So once the
//! programs are attached, the established TCP connections in the host's `/proc` are
//! entered into the kernel's socket map as if just opened (their protocol decided by their
//! next bytes, as for any connection) and opened in the tracker.
//!
//! Contract: [`adopt`] never fails the source: what it cannot read or enter is skipped.
//! A connection the programs already follow (opened between attaching and the scan) is
//! left as the kernel has it. The kernel filter applies as in the kernel; descriptors
//! copied within a process follow one connection, as `dup` does.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use aya::maps::HashMap as BpfHashMap;
use aya::Ebpf;
use kotel_common::l7::{names, L7Key, L7State, PROTOCOL_UNKNOWN, ROLE_CLIENT, ROLE_SERVER};

use super::config::L7SourceConfig;
use super::records::{ConnKey, Header, Opened, Record};
use super::tracker::Tracker;
use crate::kernel::clock::monotonic_now_ns;
use crate::kernel::filter::UserFilter;
use crate::node::cgroups::cgroup2_root;
use crate::node::process::{cgroup_id_of, own_tgid};
use crate::node::tcp_table::established;

/// `BPF_NOEXIST`: insert only a new key.
const NO_EXIST: u64 = 1;

/// Follows the connections established before now; returns how many.
pub fn adopt(ebpf: &mut Ebpf, config: &L7SourceConfig, tracker: &mut Tracker) -> usize {
    let Some(map) = ebpf.map_mut(names::SOCKETS) else {
        return 0;
    };
    let Ok(mut sockets) = BpfHashMap::<_, L7Key, L7State>::try_from(map) else {
        return 0;
    };
    let proc = config.proc_dir();
    let filter = UserFilter::new(&config.filter, Path::new("")).unwrap_or_default();
    let cgroup_root = cgroup2_root(Path::new("")).unwrap_or_default();
    let mut cgroups: HashMap<u32, u64> = HashMap::new();
    // The first descriptor of a socket in a process, and its state, for its copies.
    let mut primary: HashMap<(u32, u64), L7State> = HashMap::new();
    let mut adopted = 0;
    let mut ignored = Vec::new();
    for c in established(&proc, own_tgid(&proc), config.max_connections) {
        let cgroup_id = *cgroups
            .entry(c.tgid)
            .or_insert_with(|| cgroup_id_of(&proc, c.tgid, &cgroup_root).unwrap_or(0));
        if !filter.admits(cgroup_id, &c.comm, (c.local.port(), c.peer.port())) {
            continue;
        }
        let key = L7Key {
            tgid: c.tgid,
            fd: c.fd,
        };
        if let Some(state) = primary.get(&(c.tgid, c.inode)) {
            let _ = sockets.insert(key, state, NO_EXIST);
            continue;
        }
        let opened_ns = monotonic_now_ns();
        let state = L7State {
            opened_ns,
            protocol: PROTOCOL_UNKNOWN,
            role: if c.accepted { ROLE_SERVER } else { ROLE_CLIENT },
            fd: c.fd,
            ..L7State::default()
        };
        if sockets.insert(key, state, NO_EXIST).is_err() {
            continue; // followed already, or the map is full
        }
        primary.insert((c.tgid, c.inode), state);
        let conn = ConnKey {
            tgid: c.tgid,
            fd: c.fd,
        };
        let header = Header {
            key: conn,
            opened_ns,
            start_ns: opened_ns,
            end_ns: opened_ns,
            size: 0,
            offset: 0,
            flags: 0,
        };
        let opened = Opened {
            server: c.accepted,
            cgroup_id,
            comm: Arc::from(c.comm),
            local: c.local,
            peer: c.peer,
        };
        tracker.record(Record::Open(header, opened), &mut ignored);
        adopted += 1;
    }
    adopted
}
