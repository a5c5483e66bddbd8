//! What this node is, shared by every layer that asks: its mount table and its cgroup
//! hierarchies, its established TCP connections. Read-only views of `/proc` and `/sys`; no component state.

pub mod cgroups;
pub mod mounts;
pub mod process;
pub mod tcp_table;
