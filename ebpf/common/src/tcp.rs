//! TCP connection lifecycle records (`tcp` source).

/// Length of the `comm` field (the kernel's `TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;

/// `AF_INET`, as carried in [`TcpEvent::family`].
pub const AF_INET: u16 = 2;
/// `AF_INET6`, as carried in [`TcpEvent::family`].
pub const AF_INET6: u16 = 10;

/// What happened to a connection. Values are stable: they cross the kernel boundary and
/// appear in recorded files.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpEventKind {
    /// Outbound connect completed (SYN_SENT -> ESTABLISHED).
    Connect = 1,
    /// Inbound connection established (SYN_RECV -> ESTABLISHED).
    Accept = 2,
    /// Outbound connect failed (SYN_SENT/SYN_RECV -> CLOSE); `old_state` says where it died.
    ConnectFailed = 3,
    /// An established connection reached CLOSE; `duration_ns` is its lifetime.
    Close = 4,
}

impl TcpEventKind {
    /// Decodes the wire value; `None` for a value this build does not know.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::Connect),
            2 => Some(Self::Accept),
            3 => Some(Self::ConnectFailed),
            4 => Some(Self::Close),
            _ => None,
        }
    }
}

/// Which side opened the connection.
pub const DIRECTION_UNKNOWN: u32 = 0;
/// The local process called connect().
pub const DIRECTION_OUTBOUND: u32 = 1;
/// The connection arrived at a local listener.
pub const DIRECTION_INBOUND: u32 = 2;

/// `IPPROTO_TCP`, as carried in the tracepoint's `protocol` field.
pub const IPPROTO_TCP: u16 = 6;

/// Kernel TCP states (`include/net/tcp_states.h`), as carried in `old_state`/`new_state`.
pub mod state {
    /// `TCP_ESTABLISHED`.
    pub const ESTABLISHED: u32 = 1;
    /// `TCP_SYN_SENT`.
    pub const SYN_SENT: u32 = 2;
    /// `TCP_SYN_RECV`.
    pub const SYN_RECV: u32 = 3;
    /// `TCP_FIN_WAIT1`.
    pub const FIN_WAIT1: u32 = 4;
    /// `TCP_FIN_WAIT2`.
    pub const FIN_WAIT2: u32 = 5;
    /// `TCP_TIME_WAIT`.
    pub const TIME_WAIT: u32 = 6;
    /// `TCP_CLOSE`.
    pub const CLOSE: u32 = 7;
    /// `TCP_CLOSE_WAIT`.
    pub const CLOSE_WAIT: u32 = 8;
    /// `TCP_LAST_ACK`.
    pub const LAST_ACK: u32 = 9;
    /// `TCP_LISTEN`.
    pub const LISTEN: u32 = 10;
    /// `TCP_CLOSING`.
    pub const CLOSING: u32 = 11;
    /// `TCP_NEW_SYN_RECV`.
    pub const NEW_SYN_RECV: u32 = 12;

    /// snake_case name of a state (`syn_sent`), `None` for a number this build does not know.
    pub const fn name(state: u32) -> Option<&'static str> {
        Some(match state {
            ESTABLISHED => "established",
            SYN_SENT => "syn_sent",
            SYN_RECV => "syn_recv",
            FIN_WAIT1 => "fin_wait1",
            FIN_WAIT2 => "fin_wait2",
            TIME_WAIT => "time_wait",
            CLOSE => "close",
            CLOSE_WAIT => "close_wait",
            LAST_ACK => "last_ack",
            LISTEN => "listen",
            CLOSING => "closing",
            NEW_SYN_RECV => "new_syn_recv",
            _ => return None,
        })
    }

    /// True for the states of an established connection (the ones a close leaves from).
    pub const fn is_established_family(state: u32) -> bool {
        matches!(
            state,
            ESTABLISHED | FIN_WAIT1 | FIN_WAIT2 | CLOSE_WAIT | LAST_ACK | CLOSING
        )
    }
}

/// The process that owns a socket, remembered at connect/listen time (process context),
/// because later state changes often run in softirq context where the current task is
/// unrelated to the socket.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockOwner {
    /// Monotonic time (ns) of connect() (CLOSE -> SYN_SENT); 0 for accepted sockets and for
    /// connections whose start the program did not see.
    pub start_ns: u64,
    /// Monotonic time (ns) the connection became ESTABLISHED, 0 before that.
    pub established_ns: u64,
    /// Kernel socket address this owner was recorded for.
    pub sock_id: u64,
    /// cgroup v2 id of the owning process.
    pub cgroup_id: u64,
    /// Thread-group id (user-space pid).
    pub pid: u32,
    /// One of the `DIRECTION_*` constants.
    pub direction: u32,
    /// Task name, NUL padded.
    pub comm: [u8; COMM_LEN],
    /// Retransmissions of this connection so far (`tcp:tcp_retransmit_skb`).
    pub retransmits: u32,
    /// Resets this connection sent so far (`tcp:tcp_send_reset`).
    pub resets_sent: u32,
    /// Resets this connection received so far (`tcp:tcp_receive_reset`).
    pub resets_received: u32,
    /// Cached filter verdict for the quality programs: 0 = not computed; else the low 16
    /// bits are the filter epoch + 1 it was computed under and bit 31 is "allowed".
    pub verdict: u32,
}

/// Value of the listener map: the owner of the first socket that listened on the key, and
/// how many sockets listen there now (`SO_REUSEPORT` siblings share a key). The entry goes
/// when the last of them closes, so a sibling closing first leaves the others' accepts
/// attributed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerOwner {
    /// Owner of the socket that created the entry.
    pub owner: SockOwner,
    /// Sockets listening on the key that the program counted (64 bits: the BPF target's
    /// atomic width).
    pub live: u64,
}

/// Key of the listener map: a listening port within a network namespace.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerKey {
    /// Inode number of the socket's network namespace (0 when unknown).
    pub netns: u32,
    /// Local port, host byte order.
    pub port: u16,
    /// Address family.
    pub family: u16,
}

/// Byte offsets inside kernel structs, read from the running kernel's BTF by the agent and
/// set as a global before the program loads. A zero `valid` means "unknown": the program
/// then reports netns 0 and keys listeners by port and family alone.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockOffsets {
    /// Non-zero when the offsets below were resolved.
    pub valid: u32,
    /// `struct sock_common.skc_net` (a `possible_net_t` holding `struct net *`).
    pub sock_common_net: u32,
    /// `struct net.ns` + `struct ns_common.inum`.
    pub net_ns_inum: u32,
    /// Padding, keeps the struct 8-byte sized.
    pub _pad: u32,
}

/// One connection lifecycle record, as written by the kernel into the ring buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpEvent {
    /// Monotonic timestamp (ns, `bpf_ktime_get_ns`).
    pub timestamp_ns: u64,
    /// SYN_SENT -> ESTABLISHED in ns (outbound connects; also set on their close), else 0.
    pub connect_latency_ns: u64,
    /// ESTABLISHED -> CLOSE in ns (close events), else 0.
    pub duration_ns: u64,
    /// cgroup v2 id of the owning process (0 when unknown).
    pub cgroup_id: u64,
    /// Opaque kernel socket address; identifies the connection while it lives.
    pub sock_id: u64,
    /// One of [`TcpEventKind`] as `u32`.
    pub kind: u32,
    /// One of the `DIRECTION_*` constants.
    pub direction: u32,
    /// Owning process id (0 when unknown).
    pub pid: u32,
    /// Network namespace inode (0 when unknown).
    pub netns: u32,
    /// TCP state before the transition (kernel `TCP_*` numbering).
    pub old_state: u32,
    /// TCP state after the transition.
    pub new_state: u32,
    /// `AF_INET` or `AF_INET6`.
    pub family: u16,
    /// Local port, host byte order.
    pub local_port: u16,
    /// Remote port, host byte order.
    pub remote_port: u16,
    /// Padding.
    pub _pad: u16,
    /// Local address: IPv4 in the first 4 bytes, or IPv6 (network byte order).
    pub local_addr: [u8; 16],
    /// Remote address, same layout as `local_addr`.
    pub remote_addr: [u8; 16],
    /// Owning task name, NUL padded.
    pub comm: [u8; COMM_LEN],
    /// Bytes the peer acknowledged (`tcp_sock.bytes_acked`); close and failed events, else 0.
    pub bytes_sent: u64,
    /// Bytes received in sequence (`tcp_sock.bytes_received`); close and failed events.
    pub bytes_received: u64,
    /// Smoothed RTT in µs (`tcp_sock.srtt_us >> 3`) at close; close and failed events.
    pub srtt_us: u32,
    /// Minimum RTT in µs (`tcp_sock.rtt_min`) at close; close and failed events.
    pub min_rtt_us: u32,
    /// Retransmissions of the connection; close and failed events.
    pub retransmits: u32,
    /// Resets the connection sent while it was open; close and failed events.
    pub resets_sent: u32,
    /// Resets the connection received; close and failed events.
    pub resets_received: u32,
    /// Padding.
    pub _pad2: u32,
}

/// Size of one [`TcpEvent`] record in the ring buffer; user space rejects records of any
/// other length.
pub const TCP_EVENT_SIZE: usize = core::mem::size_of::<TcpEvent>();
const _: () = assert!(TCP_EVENT_SIZE == 160 && core::mem::align_of::<TcpEvent>() == 8);
const _: () = assert!(core::mem::offset_of!(TcpEvent, bytes_sent) == 120);
const _: () = assert!(core::mem::size_of::<SockOwner>() == 72);
const _: () = assert!(core::mem::size_of::<ListenerKey>() == 8);
const _: () = assert!(core::mem::size_of::<ListenerOwner>() == 80);

/// Indexes of the per-CPU stats counters of the `tcp` program.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpStat {
    /// Events emitted into the ring buffer.
    Emitted = 0,
    /// Ring buffer full: reserve failed, the event is lost.
    RingbufFull = 1,
    /// Inserting into an owner map failed because it was full: the socket is not tracked
    /// show up later as `OwnerUnknown`).
    OwnerMapFull = 2,
    /// A tracepoint read failed (the event was skipped).
    ReadError = 3,
    /// An established, failed or close transition with no remembered owner (the connection
    /// predates the program, or it was not tracked because the map was full).
    OwnerUnknown = 4,
    /// The program asked the kernel to wake the reader (ring buffer filled past
    /// `KOTEL_TCP_WAKEUP_BYTES`).
    Wakeup = 5,
    /// An event or sample the kernel-side filters dropped (cgroup, comm or port):
    /// lifecycle events, RTT samples, connect latencies, retransmits and resets.
    Filtered = 6,
    /// A histogram or counter entry could not be created (aggregation map full): the
    /// sample is lost.
    AggMapFull = 7,
    /// An RTT sample, retransmit or reset of a socket with no remembered owner: counted
    /// under the socket's own cgroup (or 0 when unreadable).
    QualityOwnerUnknown = 8,
}

impl TcpStat {
    /// Number of counters (size of the stats map).
    pub const COUNT: u32 = 9;
    /// Every counter, in index order.
    pub const ALL: [TcpStat; 9] = [
        TcpStat::Emitted,
        TcpStat::RingbufFull,
        TcpStat::OwnerMapFull,
        TcpStat::ReadError,
        TcpStat::OwnerUnknown,
        TcpStat::Wakeup,
        TcpStat::Filtered,
        TcpStat::AggMapFull,
        TcpStat::QualityOwnerUnknown,
    ];
    /// Stable snake_case name, used as the `reason`/`stat` attribute in self-telemetry.
    pub const fn name(self) -> &'static str {
        match self {
            TcpStat::Emitted => "emitted",
            TcpStat::RingbufFull => "ringbuf_full",
            TcpStat::OwnerMapFull => "owner_map_full",
            TcpStat::ReadError => "read_error",
            TcpStat::OwnerUnknown => "owner_unknown",
            TcpStat::Wakeup => "wakeup",
            TcpStat::Filtered => "filtered",
            TcpStat::AggMapFull => "agg_map_full",
            TcpStat::QualityOwnerUnknown => "quality_owner_unknown",
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data, #[repr(C)], every bit pattern valid.
    unsafe impl aya::Pod for super::SockOwner {}
    unsafe impl aya::Pod for super::ListenerKey {}
    unsafe impl aya::Pod for super::SockOffsets {}
    unsafe impl aya::Pod for super::TcpEvent {}
}
