//! Kernel timestamps to wall-clock time, for every source's records.

/// Converts the kernel's `bpf_ktime_get_ns` (CLOCK_MONOTONIC) to Unix time. Computed once
/// at start: wall-clock steps after that are not followed (a restart picks them up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockOffset {
    /// CLOCK_REALTIME - CLOCK_MONOTONIC in ns.
    realtime_minus_monotonic: i128,
}

/// `clock` now, in ns.
fn ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and a valid out-pointer.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// CLOCK_MONOTONIC now (the kernel programs' `bpf_ktime_get_ns`), in ns.
pub fn monotonic_now_ns() -> u64 {
    ns(libc::CLOCK_MONOTONIC).clamp(0, u64::MAX.into()) as u64
}

impl ClockOffset {
    /// The offset now.
    pub fn now() -> Self {
        let mono = ns(libc::CLOCK_MONOTONIC);
        let real = ns(libc::CLOCK_REALTIME);
        Self {
            realtime_minus_monotonic: real - mono,
        }
    }

    /// A fixed offset (tests).
    pub const fn fixed(realtime_minus_monotonic_ns: i128) -> Self {
        Self {
            realtime_minus_monotonic: realtime_minus_monotonic_ns,
        }
    }

    /// Unix ns of a monotonic timestamp, clamped to `0..=u64::MAX`.
    pub fn unix_nanos(&self, monotonic_ns: u64) -> u64 {
        (i128::from(monotonic_ns) + self.realtime_minus_monotonic).clamp(0, u64::MAX.into()) as u64
    }
}
