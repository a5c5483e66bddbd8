//! Helpers shared by the root tests: privilege checks and the path of the built agent.

use std::path::PathBuf;

/// True when running as root. Root tests print why and return early otherwise, so that a
/// plain `cargo test` by a user stays green; `scripts/test.sh` runs them as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Prints why a root test did not run, as a `SKIPPED` line that `scripts/test.sh` counts.
/// Written to the process's stderr directly: the test harness captures `eprintln!`.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

/// The `kotel` binary built by `cargo build` (scripts/test.sh builds it first).
pub fn kotel_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("KOTEL_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("debug").join("kotel")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub mod agent;
pub mod agent_process;
pub mod alloc_count;
pub mod connection_mix;
pub mod containerd;
pub mod events;
pub mod fake_cri;
pub mod fd_table;
pub mod harness;
pub mod kubelet;
pub mod local_server;
pub mod prometheus;
pub mod rotel;
pub mod running_source;
pub mod steady_path;
pub mod support;
pub mod warm_cri;

/// A child process that is killed and reaped when dropped, so a failing test leaves
/// nothing running (an agent left behind would hold its ports and kernel programs).
pub struct KillOnDrop(pub std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
