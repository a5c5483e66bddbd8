//! Event producers: eBPF programs and files.

pub mod exec;
pub mod file_open;
pub mod l7;
pub mod replay;
pub mod tcp;
