//! Which BPF objects a process holds (from /proc/PID/fd and fdinfo) and which are loaded
//! in the kernel (`bpftool ... show -j`), so a test can tell its own agent's programs and
//! maps from those of anything else running on the machine.

use std::collections::BTreeSet;

use kotel_integration_tests::agent_process::{bpf_objects, bpftool_list};

/// Ids of the BPF objects some process holds a file descriptor of.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Held {
    /// Programs (a program fd, or the program of a link fd).
    pub programs: BTreeSet<u32>,
    /// Maps.
    pub maps: BTreeSet<u32>,
    /// Links.
    pub links: BTreeSet<u32>,
}

/// What process `pid` holds (empty once it is gone).
pub fn held_by(pid: u32) -> Held {
    let mut held = Held::default();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return held;
    };
    for fd in fds.flatten() {
        let target = std::fs::read_link(fd.path()).unwrap_or_default();
        if !target.to_string_lossy().starts_with("anon_inode:bpf") {
            continue;
        }
        let name = fd.file_name();
        let info =
            std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", name.to_string_lossy()))
                .unwrap_or_default();
        let field = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse::<u32>().ok())
        };
        if let Some(id) = field("link_id:") {
            held.links.insert(id);
        }
        if let Some(id) = field("prog_id:") {
            held.programs.insert(id);
        }
        if let Some(id) = field("map_id:") {
            held.maps.insert(id);
        }
    }
    held
}

/// What every process on the machine holds.
pub fn held_by_anyone() -> Held {
    let mut all = Held::default();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let held = held_by(pid);
        all.programs.extend(held.programs);
        all.maps.extend(held.maps);
        all.links.extend(held.links);
    }
    all
}

/// Loaded kotel programs (named `kotel_*`) that no process holds: nothing will ever
/// unload them (e.g. a program attached to a cgroup without a link, by a process that died).
/// Looked at twice, half a second apart: a program whose process is exiting right then
/// (the kernel frees it a moment later) is not an orphan.
pub fn orphan_kotel_programs() -> Vec<(u32, String)> {
    let once = || {
        let loaded = bpf_objects("prog");
        let held = held_by_anyone();
        loaded
            .into_iter()
            .filter(|(id, name)| name.starts_with("kotel_") && !held.programs.contains(id))
            .collect::<Vec<_>>()
    };
    let first = once();
    if first.is_empty() {
        return first;
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let second = once();
    first.into_iter().filter(|p| second.contains(p)).collect()
}

/// Program ids attached to the cgroup `path` (`bpftool cgroup show PATH -j`).
pub fn cgroup_programs(path: &str) -> BTreeSet<u32> {
    bpftool_list(&["cgroup", "show", path])
        .iter()
        .filter_map(|o| o["id"].as_u64().map(|id| id as u32))
        .collect()
}
