//! Kernel-side filters shared by every source's programs: include or exclude events by
//! the owner's cgroup id, its task name (comm) and, for connections, the local or remote
//! port. The agent writes the sets and modes into maps at start-up and may change them at
//! any time; the programs read them on every event, so no reload is needed.

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
    /// Padding.
    pub _pad: u32,
}

/// Most cgroup ids in the set.
pub const MAX_CGROUPS: u32 = 16_384;
/// Most comms in the set.
pub const MAX_COMMS: u32 = 1_024;
/// Most ports in the set.
pub const MAX_PORTS: u32 = 1_024;

/// Map names (the same in every source's object).
pub mod maps {
    /// Array of one [`super::FilterModes`].
    pub const MODES: &str = "KOTEL_FILTER_MODES";
    /// Hash: cgroup id (`u64`) -> 1.
    pub const CGROUPS: &str = "KOTEL_FILTER_CGROUPS";
    /// Hash: comm (`[u8; 16]`, NUL padded) -> 1.
    pub const COMMS: &str = "KOTEL_FILTER_COMMS";
    /// Hash: port (`u16`, host order) -> 1.
    pub const PORTS: &str = "KOTEL_FILTER_PORTS";
}

#[cfg(feature = "user")]
// SAFETY: plain-old-data, #[repr(C)], every bit pattern valid.
unsafe impl aya::Pod for FilterModes {}
