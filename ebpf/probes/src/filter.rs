//! The kernel half of the filters (see `kotel_common::filter`): programs call
//! [`allows_process`] and, for connections, [`allows_ports`] before they emit, and count
//! what they drop in their own stats map.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap},
};
use kotel_common::filter::{
    CgroupKey, CommKey, FilterModes, PortKey, MAX_CGROUPS, MAX_COMMS, MAX_PORTS, MODE_EXCLUDE,
    MODE_INCLUDE,
};

/// One [`FilterModes`]; all zero (nothing filtered) until the agent writes it.
#[map]
pub static KOTEL_FILTER_MODES: Array<FilterModes> = Array::with_max_entries(1, 0);
/// cgroup ids of the set, two generations.
#[map]
pub static KOTEL_FILTER_CGROUPS: HashMap<CgroupKey, u8> =
    HashMap::with_max_entries(2 * MAX_CGROUPS, 0);
/// comms of the set, two generations.
#[map]
pub static KOTEL_FILTER_COMMS: HashMap<CommKey, u8> = HashMap::with_max_entries(2 * MAX_COMMS, 0);
/// Ports of the set, two generations.
#[map]
pub static KOTEL_FILTER_PORTS: HashMap<PortKey, u8> = HashMap::with_max_entries(2 * MAX_PORTS, 0);

#[inline(always)]
fn admits(mode: u32, in_set: impl FnOnce() -> bool) -> bool {
    match mode {
        MODE_INCLUDE => in_set(),
        MODE_EXCLUDE => !in_set(),
        _ => true,
    }
}

/// True when an event of a process in `cgroup_id` named `comm` passes the filters.
#[inline(always)]
pub fn allows_process(cgroup_id: u64, comm: &[u8; 16]) -> bool {
    let Some(modes) = KOTEL_FILTER_MODES.get(0) else {
        return true;
    };
    let generation = modes.generation;
    // Keys are built only for a filter that is on: most runs pay for neither.
    // SAFETY: lookups only; the values are not read.
    admits(modes.cgroups, || {
        let key = CgroupKey {
            cgroup_id,
            generation,
            _pad: 0,
        };
        unsafe { KOTEL_FILTER_CGROUPS.get(&key) }.is_some()
    }) && admits(modes.comms, || {
        let key = CommKey {
            comm: *comm,
            generation,
        };
        unsafe { KOTEL_FILTER_COMMS.get(&key) }.is_some()
    })
}

/// True when a connection with these ports passes the port filter (a port in the set
/// matches whether it is the local or the remote one).
#[inline(always)]
pub fn allows_ports(local: u16, remote: u16) -> bool {
    let Some(modes) = KOTEL_FILTER_MODES.get(0) else {
        return true;
    };
    let generation = modes.generation;
    let key = |port| PortKey {
        port,
        _pad: 0,
        generation,
    };
    // SAFETY: lookups only; the values are not read.
    admits(modes.ports, || unsafe {
        KOTEL_FILTER_PORTS.get(&key(local)).is_some()
            || KOTEL_FILTER_PORTS.get(&key(remote)).is_some()
    })
}

/// Fails the build when a map's name differs from the constant user space looks it up by.
const _: () = {
    use kotel_common::{filter::maps, str_eq};
    assert!(str_eq(maps::MODES, "KOTEL_FILTER_MODES"));
    assert!(str_eq(maps::CGROUPS, "KOTEL_FILTER_CGROUPS"));
    assert!(str_eq(maps::COMMS, "KOTEL_FILTER_COMMS"));
    assert!(str_eq(maps::PORTS, "KOTEL_FILTER_PORTS"));
};
