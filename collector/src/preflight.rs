//! Checks made after the config is valid and before anything is started, so that a
//! missing privilege fails at once with one clear sentence instead of a restart loop.

use crate::config::Config;

/// Capability bits (linux/capability.h).
const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

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

/// True when the capability mask allows loading and attaching tracing programs.
pub fn may_load_bpf(caps: u64) -> bool {
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

/// The `CapEff` mask from /proc/self/status (0 if unreadable).
pub fn effective_capabilities() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(0)
}
