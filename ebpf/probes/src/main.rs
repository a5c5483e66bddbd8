//! kotel's kernel programs. Built for `bpfel-unknown-none` by `collector/build.rs`
//! (aya-build) and embedded into the agent; see [`tcp`] for the `tcp` source's program.
//!
//! Contract with user space: map, program and global names are the constants of
//! `kotel_common` (checked at compile time below); records are `kotel_common` structs.
#![no_std]
#![no_main]

mod tcp;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any reachable panic path, so this is never called.
    loop {}
}

/// `bpf_probe_read_kernel` is GPL-only; the agent's kernel programs are dual licensed.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
