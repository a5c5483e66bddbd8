//! Checks made after the config is valid and before anything is started, so that a
//! missing privilege fails at once with one clear sentence instead of a restart loop.

use crate::config::Config;
use crate::kernel::privileges::{effective_capabilities, may_load_bpf};

/// Why the agent cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// A kernel source is configured but the process may not load eBPF programs.
    #[error("sources {sources} load eBPF programs, which needs root or CAP_BPF and CAP_PERFMON (effective capabilities: {caps:#x}); run as root or grant those capabilities")]
    NoBpfPrivilege {
        /// The ids of the kernel sources.
        sources: String,
        /// The effective capability mask.
        caps: u64,
    },
}

/// Fails if a configured kernel source could not be loaded for lack of privilege.
pub fn check(config: &Config) -> Result<(), PreflightError> {
    let kernel_sources: Vec<String> = config
        .sources
        .iter()
        .filter(|(_, c)| c.needs_kernel())
        .map(|(id, _)| id.to_string())
        .collect();
    if kernel_sources.is_empty() {
        return Ok(());
    }
    let caps = effective_capabilities();
    if may_load_bpf(caps) {
        Ok(())
    } else {
        Err(PreflightError::NoBpfPrivilege {
            sources: kernel_sources.join(", "),
            caps,
        })
    }
}
