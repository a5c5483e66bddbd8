//! The `file_open` source's kernel programs (being built: issue 3).
#![no_std]
#![no_main]

use aya_ebpf::{macros::tracepoint, programs::TracePointContext};

kotel_probes::program_object!();

/// Placeholder until the source's programs land.
#[tracepoint]
pub fn kotel_file_open_placeholder(_ctx: TracePointContext) -> u32 {
    0
}
