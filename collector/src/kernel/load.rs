//! What every source does to load its kernel object: lift RLIMIT_MEMLOCK where that
//! matters, make sure tracefs is mounted, and turn load errors into start-up errors that
//! say what to fix.

use std::path::Path;

use crate::component::ComponentError;
use crate::settings::ConfigError;

const TRACEFS: &str = "/sys/kernel/tracing";
/// Longest start-up error message (the tail of a verifier log is kept).
const MAX_ERROR_CHARS: usize = 4000;

/// What every source does before loading its object: refuse invalid settings (all of
/// them, in one message) and an object missing from this build, then lift
/// RLIMIT_MEMLOCK where that matters and make sure tracefs is mounted.
pub fn prepare(object: &[u8], problems: Vec<ConfigError>) -> Result<(), ComponentError> {
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().map(ConfigError::to_string).collect();
        return Err(ComponentError::Startup(text.join("; ")));
    }
    if object.is_empty() {
        return Err(ComponentError::Startup(
            "this kotel was built without kernel programs (AYA_BUILD_SKIP); rebuild without it"
                .into(),
        ));
    }
    raise_memlock();
    ensure_tracefs();
    Ok(())
}

/// A start-up error that names the operation, adds the privilege hint when the kernel said
/// EPERM, and keeps the whole error chain (aya puts the verifier log in a source).
pub fn startup(what: &str, err: &dyn std::error::Error) -> ComponentError {
    let mut msg = format!("{what}: {err}");
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    // A verifier log can run to thousands of lines; its end says what was rejected.
    if msg.len() > MAX_ERROR_CHARS {
        let cut = (msg.len() - MAX_ERROR_CHARS..)
            .find(|&i| msg.is_char_boundary(i))
            .unwrap_or(0);
        msg = format!("{what}: ... {}", &msg[cut..]);
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || msg.contains("Operation not permitted") {
        msg.push_str(" (loading kernel programs needs root, or CAP_BPF and CAP_PERFMON)");
    }
    ComponentError::Startup(msg)
}

/// Tries to lift RLIMIT_MEMLOCK (needed before kernel 5.11); failure is only logged.
pub fn raise_memlock() {
    let unlimited = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: valid resource and pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) } != 0 {
        tracing::debug!(
            "could not raise RLIMIT_MEMLOCK ({}); fine on kernels >= 5.11",
            std::io::Error::last_os_error()
        );
    }
}

/// Mounts tracefs at /sys/kernel/tracing when its `events` directory is missing.
pub fn ensure_tracefs() {
    if Path::new(TRACEFS).join("events").exists() {
        return;
    }
    // SAFETY: static NUL-terminated strings; no mount data.
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        tracing::info!("mounted tracefs at {TRACEFS}");
    } else {
        tracing::warn!(
            "tracefs missing and mounting it failed: {}",
            std::io::Error::last_os_error()
        );
    }
}
