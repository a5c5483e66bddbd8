//! Types shared by kotel's kernel programs (`kotel-probes`) and its agent (`kotel`).
//!
//! Everything here is `#[repr(C)]`, fixed-size and free of `bool` (flags are `u32`), so the
//! kernel writes exactly the bytes user space reads. Map and program names are constants
//! here and nowhere else.
#![no_std]

pub mod exec;
pub mod file_open;
pub mod filter;
pub mod kfunc;
pub mod l7;
pub mod tcp;
pub mod tcp_quality;
pub mod vfs;

/// Names of the kernel programs, as the loader looks them up in the object file.
pub mod programs {
    /// `sock:inet_sock_set_state` tracepoint handler of the `tcp` source.
    pub const TCP_STATE: &str = "kotel_tcp_state";
    /// Tracepoint category [`TCP_STATE`] attaches to.
    pub const TCP_STATE_CATEGORY: &str = "sock";
    /// Tracepoint name [`TCP_STATE`] attaches to.
    pub const TCP_STATE_TRACEPOINT: &str = "inet_sock_set_state";
    /// `tp_btf/tcp_probe` program of the `tcp` source: RTT samples, one per segment an
    /// established socket receives.
    pub const TCP_RTT: &str = "kotel_tcp_rtt";
    /// The BTF tracepoint [`TCP_RTT`] attaches to.
    pub const TCP_RTT_TRACEPOINT: &str = "tcp_probe";
    /// `tcp:tcp_retransmit_skb` handler of the `tcp` source.
    pub const TCP_RETRANSMIT: &str = "kotel_tcp_retransmit";
    /// `tcp:tcp_send_reset` handler of the `tcp` source.
    pub const TCP_SEND_RESET: &str = "kotel_tcp_send_reset";
    /// `tcp:tcp_receive_reset` handler of the `tcp` source.
    pub const TCP_RECEIVE_RESET: &str = "kotel_tcp_receive_reset";
    /// Tracepoint category of the three handlers above.
    pub const TCP_CATEGORY: &str = "tcp";
    /// The tracepoint of [`TCP_RETRANSMIT`].
    pub const TCP_RETRANSMIT_TRACEPOINT: &str = "tcp_retransmit_skb";
    /// The tracepoint of [`TCP_SEND_RESET`].
    pub const TCP_SEND_RESET_TRACEPOINT: &str = "tcp_send_reset";
    /// The tracepoint of [`TCP_RECEIVE_RESET`].
    pub const TCP_RECEIVE_RESET_TRACEPOINT: &str = "tcp_receive_reset";
}

/// Names of the maps, as the loader looks them up in the object file.
pub mod maps {
    /// Ring buffer carrying [`crate::tcp::TcpEvent`] records to user space.
    pub const TCP_EVENTS: &str = "KOTEL_TCP_EVENTS";
    /// Hash: socket address -> [`crate::tcp::SockOwner`] of an open connection.
    pub const TCP_SOCKS: &str = "KOTEL_TCP_SOCKS";
    /// Hash: [`crate::tcp::ListenerKey`] -> [`crate::tcp::ListenerOwner`] of a listening port.
    pub const TCP_LISTENERS: &str = "KOTEL_TCP_LISTENERS";
    /// Per-CPU array of `u64` counters indexed by [`crate::tcp::TcpStat`].
    pub const TCP_STATS: &str = "KOTEL_TCP_STATS";
    /// Per-CPU array of one entry: the working state of a `kotel_tcp_state` run (kernel
    /// only; user space never reads it).
    pub const TCP_SCRATCH: &str = "KOTEL_TCP_SCRATCH";
    /// Per-CPU array of [`crate::tcp_quality::HistRow`], two phases of rows.
    pub const TCP_HIST: &str = "KOTEL_TCP_HIST";
    /// Per-CPU hash: [`crate::tcp_quality::CounterKey`] -> [`crate::tcp_quality::CounterValue`].
    pub const TCP_COUNTERS: &str = "KOTEL_TCP_COUNTERS";
    /// Array of two `u32`: [`crate::tcp_quality::CONTROL_PHASE`] and
    /// [`crate::tcp_quality::CONTROL_FILTER_EPOCH`], written by the agent.
    pub const TCP_CONTROL: &str = "KOTEL_TCP_CONTROL";
}

/// Names of global variables that the agent sets before loading (`EbpfLoader::set_global`).
pub mod globals {
    /// [`crate::tcp::SockOffsets`] of the running kernel, read from its BTF.
    pub const TCP_SOCK_OFFSETS: &str = "KOTEL_TCP_SOCK_OFFSETS";
    /// `u64`: 0 = wake the reader on every submit (the kernel's default policy); otherwise
    /// submit with `BPF_RB_NO_WAKEUP` and force a wakeup only when the unread data crosses
    /// this many bytes (the reader also polls on a timer).
    pub const TCP_WAKEUP_BYTES: &str = "KOTEL_TCP_WAKEUP_BYTES";
    /// [`crate::tcp_quality::CloseFields`] of the running kernel, read from its BTF.
    pub const TCP_CLOSE_FIELDS: &str = "KOTEL_TCP_CLOSE_FIELDS";
    /// [`crate::tcp_quality::CgroupFields`] of the running kernel.
    pub const TCP_CGROUP_FIELDS: &str = "KOTEL_TCP_CGROUP_FIELDS";
    /// [`crate::tcp_quality::PortFields`] of the running kernel.
    pub const TCP_PORT_FIELDS: &str = "KOTEL_TCP_PORT_FIELDS";
    /// [`crate::tcp_quality::AckFields`] of the running kernel.
    pub const TCP_ACK_FIELDS: &str = "KOTEL_TCP_ACK_FIELDS";
    /// `u32`: offset of `err` in the `tcp:tcp_retransmit_skb` record (from its tracefs
    /// format); 0 when the kernel's record has no such field (every retransmit counts).
    pub const TCP_RETRANSMIT_ERR: &str = "KOTEL_TCP_RETRANSMIT_ERR";
    /// `u32`: histogram rows per phase (a power of two; `KOTEL_TCP_HIST` holds twice as many).
    pub const TCP_HIST_ROWS: &str = "KOTEL_TCP_HIST_ROWS";
}

/// Byte-wise string equality usable in `const` context. The kernel crate asserts with it
/// that the identifiers its `#[map]`/`#[tracepoint]` macros turn into names equal the
/// constants above, so a rename cannot silently split the two sides.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
