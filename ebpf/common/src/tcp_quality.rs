//! Connection quality of the `tcp` source, aggregated inside the kernel: per-cgroup
//! histograms (RTT, connect latency) and per-cgroup retransmit/reset counters.
//!
//! Buckets are those of an OTLP exponential histogram at [`SCALE`] 2 (base
//! 2^(1/4) ≈ 1.189, four buckets per doubling): bucket `i` holds values `v` (seconds) with
//! `2^(i/4) < v <= 2^((i+1)/4)`, exactly OTLP's index semantics, so user space exports the
//! kernel's counts unchanged. The kernel bins integer nanoseconds against [`UPPER_NS`]
//! (each boundary floored to whole ns, which is exact for integer inputs), covering
//! indexes [`MIN_INDEX`] (-96: (2^-24, 2^-23.75] s, i.e. 59.6 to 70.9 ns) to [`MAX_INDEX`]
//! (39: up to 2^10 s = 1024 s). Values outside are counted in the end buckets (no RTT or
//! connect latency is below 125 ns: the kernel's RTT unit is 1/8 µs); zero goes to
//! `zero_count`.
//!
//! Histograms live in rows ([`HistRow`]: one (cgroup, metric) with all its buckets) of a
//! per-CPU array, found by open addressing on a hash of (cgroup, metric) — no hash-map
//! lookup per sample. Rows and counters are double-buffered: the kernel writes the phase in
//! `KOTEL_TCP_CONTROL` (rows `phase * rows .. (phase + 1) * rows`); user space flips the
//! phase each interval, waits for in-flight programs, then reads and resets the old phase
//! (read-and-reset without losing samples).

/// OTLP exponential-histogram scale of every kernel histogram.
pub const SCALE: i32 = 2;
/// Number of bucket slots; slot `s` is OTLP index `MIN_INDEX + s`.
pub const SLOTS: usize = 136;
/// OTLP index of slot 0: the bucket (2^-24, 2^-23.75] s (smaller values count here too).
pub const MIN_INDEX: i32 = -96;
/// OTLP index of the last slot: (2^9.75, 2^10] s; larger values are counted here too.
pub const MAX_INDEX: i32 = MIN_INDEX + SLOTS as i32 - 1;
/// Slot of a zero value (OTLP `zero_count`).
pub const ZERO_SLOT: u16 = u16::MAX;

/// Index in `KOTEL_TCP_CONTROL` of the phase (0 or 1) the kernel writes in.
pub const CONTROL_PHASE: u32 = 0;
/// Index in `KOTEL_TCP_CONTROL` of the filter epoch: the agent increments it after each
/// filter change, and the programs recompute verdicts they cached under another epoch.
pub const CONTROL_FILTER_EPOCH: u32 = 1;

/// What a histogram row measures ([`HistRow::metric`]).
pub mod metric {
    /// Smoothed RTT (`srtt`) of a socket at each RTT measurement.
    pub const RTT: u32 = 1;
    /// SYN_SENT -> ESTABLISHED of an outbound connection.
    pub const CONNECT_LATENCY: u32 = 2;
}

/// 2^(r/4) for r in 0..4, as f64 (nearest).
const QUARTER_POWERS: [f64; 4] = [
    1.0,
    1.189_207_115_002_721,
    core::f64::consts::SQRT_2,
    1.681_792_830_507_429,
];

/// floor(1e9 * 2^(k/4)) in ns, evaluated at compile time.
const fn boundary_ns(k: i32) -> u64 {
    let (q, r) = (k.div_euclid(4), k.rem_euclid(4));
    let mut x = 1e9 * QUARTER_POWERS[r as usize];
    let mut i = 0;
    while i < q.abs() {
        x = if q > 0 { x * 2.0 } else { x / 2.0 };
        i += 1;
    }
    x as u64
}

const fn upper_bounds() -> [u64; SLOTS] {
    let mut t = [0u64; SLOTS];
    let mut s = 0;
    while s < SLOTS {
        t[s] = boundary_ns(MIN_INDEX + s as i32 + 1);
        s += 1;
    }
    t
}

/// `UPPER_NS[s]`: upper bound (inclusive) of slot `s` in whole ns, floor(1e9 * 2^((MIN_INDEX
/// + s + 1) / 4)). Increasing.
pub static UPPER_NS: [u64; SLOTS] = upper_bounds();

/// The slot of a value of `v` ns: [`ZERO_SLOT`] for 0, else the number of slots whose upper
/// bound is below `v` (a binary search, 8 steps), at most `SLOTS - 1`.
#[inline(always)]
pub fn slot_of_ns(v: u64) -> u16 {
    if v == 0 {
        return ZERO_SLOT;
    }
    let mut n = 0usize;
    let mut step = 128usize;
    while step > 0 {
        if let Some(&upper) = UPPER_NS.get(n + step - 1) {
            if upper < v {
                n += step;
            }
        }
        step >>= 1;
    }
    if n >= SLOTS {
        (SLOTS - 1) as u16
    } else {
        n as u16
    }
}

/// Rows probed (consecutively) for a (cgroup, metric) before a sample is dropped as
/// `AggMapFull`.
pub const ROW_PROBES: u32 = 8;

/// One cgroup's histogram of one metric on one CPU in one phase: an entry of the per-CPU
/// array `KOTEL_TCP_HIST`. A row with `metric == 0` is free; the kernel claims it for the
/// first sample of a (cgroup, metric) whose probe sequence reaches it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistRow {
    /// cgroup v2 id of the sockets' owner (0 when unknown).
    pub cgroup_id: u64,
    /// One of the [`metric`] constants; 0 = free row.
    pub metric: u32,
    /// Samples of value zero.
    pub zero_count: u32,
    /// Sum of the samples in ns.
    pub sum_ns: u64,
    /// Samples per slot. u32 per CPU and interval: the agent caps the interval so that
    /// even 10 million samples a second into one bucket cannot wrap it.
    pub counts: [u32; SLOTS],
}

impl HistRow {
    /// A free row.
    pub const FREE: Self = Self {
        cgroup_id: 0,
        metric: 0,
        zero_count: 0,
        sum_ns: 0,
        counts: [0; SLOTS],
    };
}

impl Default for HistRow {
    fn default() -> Self {
        Self::FREE
    }
}

/// Start of the probe sequence of (cgroup, metric) among `rows` rows (a power of two).
#[inline(always)]
pub fn row_home(cgroup_id: u64, metric: u32, rows: u32) -> u32 {
    // Fibonacci hashing: the product's middle bits depend on every low input bit.
    let h = ((cgroup_id << 2) ^ u64::from(metric)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as u32 & rows.wrapping_sub(1)
}

/// Key of the per-cgroup counters map (a per-CPU hash).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CounterKey {
    /// cgroup v2 id of the socket's owner (0 when unknown, e.g. resets sent for no socket).
    pub cgroup_id: u64,
    /// Phase (0 or 1) the entry was written in.
    pub phase: u32,
    /// Padding (zero).
    pub _pad: u32,
}

/// Value of the per-cgroup counters map.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterValue {
    /// Successful retransmissions (`tcp:tcp_retransmit_skb`, one per skb).
    pub retransmits: u64,
    /// Resets sent (`tcp:tcp_send_reset`).
    pub resets_sent: u64,
    /// Resets received (`tcp:tcp_receive_reset`).
    pub resets_received: u64,
}

// Offsets the kernel programs need beyond the tracepoint records, read from the running
// kernel's BTF by the agent and set before loading, one global per group so that each
// group is one load-time switch: a zero `valid` means the group is unknown, and the
// programs then do without what it gives (each struct says what).

/// `tcp_sock` fields of a closing connection (`KOTEL_TCP_CLOSE_FIELDS`); unknown: close
/// events carry zero bytes and RTTs, and the RTT program is not loaded (it reads `srtt_us`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseFields {
    /// Non-zero when the offsets below were resolved.
    pub valid: u32,
    /// `tcp_sock.bytes_acked` (u64).
    pub bytes_acked: u32,
    /// `tcp_sock.bytes_received` (u64).
    pub bytes_received: u32,
    /// `tcp_sock.srtt_us` (u32, µs << 3).
    pub srtt_us: u32,
    /// `tcp_sock.rtt_min.s[0].v` (u32, µs).
    pub rtt_min: u32,
    /// `tcp_sock.total_retrans` (u32: segments retransmitted over the connection's life,
    /// what `TCP_INFO` reports).
    pub total_retrans: u32,
}

/// A socket's own cgroup (`KOTEL_TCP_CGROUP_FIELDS`); unknown: samples of sockets without
/// a remembered owner count under cgroup 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupFields {
    /// Non-zero when the offsets below were resolved.
    pub valid: u32,
    /// `sock.sk_cgrp_data.cgroup` (`struct cgroup *`).
    pub sk_cgroup: u32,
    /// `cgroup.kn` (`struct kernfs_node *`).
    pub cgroup_kn: u32,
    /// `kernfs_node.id` (u64, the cgroup id).
    pub kn_id: u32,
}

/// A socket's ports (`KOTEL_TCP_PORT_FIELDS`); unknown: the port filter sees port 0 for
/// retransmits, resets and RTT samples.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortFields {
    /// Non-zero when the offsets below were resolved.
    pub valid: u32,
    /// `sock_common.skc_num` (u16, local port, host byte order).
    pub skc_num: u32,
    /// `sock_common.skc_dport` (u16, remote port, network byte order).
    pub skc_dport: u32,
    /// Keeps the size a multiple of 8.
    pub _pad: u32,
}

/// What an incoming segment acknowledges (`KOTEL_TCP_ACK_FIELDS`); the RTT program needs
/// them and is not loaded without.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckFields {
    /// Non-zero when the offsets below were resolved.
    pub valid: u32,
    /// `tcp_sock.snd_una` (u32: first byte not yet acknowledged).
    pub snd_una: u32,
    /// `sk_buff.cb` + `tcp_skb_cb.ack_seq` (u32: the segment's acknowledgment number).
    pub skb_ack_seq: u32,
    /// `tcp_sock.snd_nxt` (u32: the next byte to send; an ACK beyond it is invalid).
    pub snd_nxt: u32,
}

const _: () = assert!(core::mem::size_of::<HistRow>() == 24 + 4 * SLOTS);
const _: () = assert!(core::mem::size_of::<CounterKey>() == 16);
const _: () = assert!(core::mem::size_of::<CounterValue>() == 24);
const _: () = assert!(core::mem::size_of::<CloseFields>() == 24);
const _: () = assert!(core::mem::size_of::<CgroupFields>() == 16);
const _: () = assert!(core::mem::size_of::<PortFields>() == 16);
const _: () = assert!(core::mem::size_of::<AckFields>() == 16);
const _: () = assert!(MAX_INDEX == 39 && SLOTS <= 256);

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data, #[repr(C)], every bit pattern valid.
    unsafe impl aya::Pod for super::HistRow {}
    unsafe impl aya::Pod for super::CounterKey {}
    unsafe impl aya::Pod for super::CounterValue {}
    unsafe impl aya::Pod for super::CloseFields {}
    unsafe impl aya::Pod for super::CgroupFields {}
    unsafe impl aya::Pod for super::PortFields {}
    unsafe impl aya::Pod for super::AckFields {}
}
