//! Event producers: eBPF programs and files.

pub mod replay;
pub mod tcp;
