//! Kernel-side filters shared by every source's programs: include or exclude events by
//! the owner's cgroup id, its task name (comm) and, for connections, the local or remote
//! port. The agent writes the sets and modes into maps at start-up and may change them at
//! any time; the programs read them on every event, so no reload is needed.
//!
//! Changes are atomic: every set entry carries a generation, and the programs only look
//! up entries of the generation named in [`FilterModes`]. The agent writes the new sets
//! under the other generation, switches the modes entry (one map write), then deletes the
//! old generation's entries.

/// A dimension that filters nothing.
pub const MODE_OFF: u32 = 0;
/// Only events whose value is in the set pass.
pub const MODE_INCLUDE: u32 = 1;
/// Events whose value is in the set are dropped.
pub const MODE_EXCLUDE: u32 = 2;

/// Entry 0 of the modes map: one `MODE_*` per dimension.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterModes {
    /// Mode of the cgroup id set.
    pub cgroups: u32,
    /// Mode of the comm set.
    pub comms: u32,
    /// Mode of the port set.
    pub ports: u32,
    /// Generation (0 or 1) of the set entries in force.
    pub generation: u32,
}

/// Key of the cgroup set.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CgroupKey {
    /// cgroup v2 id.
    pub cgroup_id: u64,
    /// Generation of the entry.
    pub generation: u32,
    /// Padding (zero).
    pub _pad: u32,
}

/// Key of the comm set.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CommKey {
    /// Task name, NUL padded.
    pub comm: [u8; 16],
    /// Generation of the entry.
    pub generation: u32,
}

/// Key of the port set.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortKey {
    /// Port, host byte order.
    pub port: u16,
    /// Padding (zero).
    pub _pad: u16,
    /// Generation of the entry.
    pub generation: u32,
}

/// Most cgroup ids in the set (the map holds two generations of it).
pub const MAX_CGROUPS: u32 = 16_384;
/// Most comms in the set.
pub const MAX_COMMS: u32 = 1_024;
/// Most ports in the set.
pub const MAX_PORTS: u32 = 1_024;

/// Map names (the same in every source's object).
pub mod maps {
    /// Array of one [`super::FilterModes`].
    pub const MODES: &str = "KOTEL_FILTER_MODES";
    /// Hash: [`super::CgroupKey`] -> 1.
    pub const CGROUPS: &str = "KOTEL_FILTER_CGROUPS";
    /// Hash: [`super::CommKey`] -> 1.
    pub const COMMS: &str = "KOTEL_FILTER_COMMS";
    /// Hash: [`super::PortKey`] -> 1.
    pub const PORTS: &str = "KOTEL_FILTER_PORTS";
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data, #[repr(C)], every bit pattern valid.
    unsafe impl aya::Pod for super::FilterModes {}
    unsafe impl aya::Pod for super::CgroupKey {}
    unsafe impl aya::Pod for super::CommKey {}
    unsafe impl aya::Pod for super::PortKey {}
}
