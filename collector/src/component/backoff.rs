//! Waits between attempts for tasks that reconnect or retry (the CRI connection, OTLP
//! sends): a doubling wait plus jitter, so that many agents restarting together do not
//! hit a backend in lockstep.

use std::time::Duration;

/// `base` plus up to 50% of it, drawn from the clock's sub-second nanoseconds.
pub fn jittered(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base + base.mul_f64(f64::from(nanos % 1000) / 2000.0)
}
