//! The `tcp` source's kernel programs. Built for `bpfel-unknown-none` by
//! `collector/build.rs` (aya-build) and embedded into the agent; see [`tcp`].
//!
//! Contract with user space: map, program and global names are the constants of
//! `kotel_common` (checked at compile time); records are `kotel_common` structs.
#![no_std]
#![no_main]

mod tcp;

kotel_probes::program_object!();
