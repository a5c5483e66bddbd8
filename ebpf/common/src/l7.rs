//! `l7` source records, shared by the kernel programs (`kotel-l7`) and the agent.
//!
//! The programs follow TCP sockets from the syscalls that open them (`connect`, `accept`,
//! `accept4`) to `close`, keyed by process and descriptor (copies made with `dup`,
//! `dup2`, `dup3` or `fcntl(F_DUPFD)` included), and copy the first bytes of every read
//! and write on them. One ring record per event:
//! - [`RECORD_OPEN`]: a socket starts being followed ([`L7Header`] + [`ConnInfo`]);
//! - [`RECORD_DATA`]: one read or write ([`L7Header`] + `captured` payload bytes);
//! - [`RECORD_CLOSE`]: the descriptor was closed ([`L7Header`]);
//! - [`RECORD_IGNORED`]: the first payload was not a protocol kotel parses; the socket is
//!   no longer followed ([`L7Header`], `flags` = [`IGNORED_TLS`] or [`IGNORED_OTHER`]).
//!
//! A connection is identified by `(tgid, fd, opened_ns)`: `opened_ns` (the open's
//! monotonic time) tells a reused descriptor from the one before it.

/// Most payload bytes one record carries (the `capture_bytes` setting's ceiling).
pub const CAPTURE_MAX: usize = 4096;
/// Iovec segments read from one `readv`/`writev`/`recvmsg`/`sendmsg` (the rest of the
/// message is counted in `size`, not captured).
pub const IOV_SEGMENTS: u32 = 8;
/// Slots of the enter→exit table (`tid % SLOTS`); a power of two.
pub const SLOTS: u32 = 16384;
/// Sockets followed at once (LRU: the least recently used is forgotten first).
pub const MAX_SOCKETS: u32 = 65536;

/// `L7Header::kind`: a socket starts being followed.
pub const RECORD_OPEN: u32 = 1;
/// `L7Header::kind`: one read or write.
pub const RECORD_DATA: u32 = 2;
/// `L7Header::kind`: the descriptor was closed.
pub const RECORD_CLOSE: u32 = 3;
/// `L7Header::kind`: the socket's first bytes were not a protocol kotel parses.
pub const RECORD_IGNORED: u32 = 4;

/// Data flag: bytes the process wrote (else read).
pub const DATA_SEND: u32 = 1;
/// Data flag: the bytes moved without passing through user memory (`sendfile`): `size`
/// counts them, nothing is captured.
pub const DATA_UNSEEN: u32 = 2;

/// Ignored flag: the first bytes were a TLS record (encrypted; kotel sees no HTTP).
pub const IGNORED_TLS: u32 = 1;
/// Ignored flag: the first bytes were something else.
pub const IGNORED_OTHER: u32 = 2;

/// `ConnInfo::role`: the process connected (it makes requests).
pub const ROLE_CLIENT: u32 = 1;
/// `ConnInfo::role`: the process accepted (it answers requests).
pub const ROLE_SERVER: u32 = 2;

/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;

/// `L7State::protocol`: not classified yet (no payload seen).
pub const PROTOCOL_UNKNOWN: u32 = 0;
/// `L7State::protocol`: HTTP/1.x.
pub const PROTOCOL_HTTP1: u32 = 1;

/// What every record starts with.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L7Header {
    /// One of `RECORD_*`.
    pub kind: u32,
    /// Thread-group id (user-space pid) of the process.
    pub tgid: u32,
    /// The socket's descriptor in that process.
    pub fd: u32,
    /// `DATA_*` bits (data records) or `IGNORED_*` (ignored records).
    pub flags: u32,
    /// Monotonic time the socket started being followed (ns): with `tgid` and `fd`, the
    /// connection's identity.
    pub opened_ns: u64,
    /// Monotonic time the syscall entered (ns); the record's time for open and close.
    /// Data records read the clock once per syscall, so `start_ns == end_ns`: a client's
    /// write (a request starting to be sent) at its enter, every other read or write
    /// (a request arrived, a response sent or received) at its exit.
    pub start_ns: u64,
    /// Monotonic time the syscall returned (ns); for data records, see `start_ns`.
    pub end_ns: u64,
    /// Bytes the syscall moved (data records).
    pub size: u64,
    /// Bytes the connection had moved in the same direction before this syscall (data
    /// records): a record that starts past where the previous one of its direction ended
    /// follows records that were lost (a full ring, a slot taken by another thread).
    pub offset: u64,
    /// Payload bytes after the header (data records; at most [`CAPTURE_MAX`]).
    pub captured: u32,
    /// Padding (zero).
    pub _pad: u32,
}

/// Bytes of an [`L7Header`].
pub const HEADER_BYTES: usize = core::mem::size_of::<L7Header>();
const _: () = assert!(HEADER_BYTES == 64);

/// What an open record carries after its header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnInfo {
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// [`ROLE_CLIENT`] or [`ROLE_SERVER`].
    pub role: u32,
    /// [`AF_INET`] or [`AF_INET6`].
    pub family: u16,
    /// Local port (host order).
    pub local_port: u16,
    /// Remote port (host order).
    pub remote_port: u16,
    /// Padding (zero).
    pub _pad: [u16; 3],
    /// Local address: 4 bytes (IPv4) or 16 (IPv6), network order.
    pub local_addr: [u8; 16],
    /// Remote address, as `local_addr`.
    pub remote_addr: [u8; 16],
    /// The process's task name, NUL padded.
    pub comm: [u8; 16],
}

/// Bytes of an open record.
pub const OPEN_RECORD_BYTES: usize = HEADER_BYTES + core::mem::size_of::<ConnInfo>();
const _: () = assert!(core::mem::size_of::<ConnInfo>() == 72);

/// Bytes of a connection's start the kernel classifies it by ([`classify`]).
pub const CLASSIFY_BYTES: u32 = 4;

/// A followed socket (kernel map value).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L7State {
    /// The connection's `opened_ns`.
    pub opened_ns: u64,
    /// While the protocol is unknown: the connection's first bytes (either direction),
    /// little endian, `head_len` of them. A start written or read a few bytes at a time
    /// (slowloris) is gathered here until [`CLASSIFY_BYTES`] decide.
    pub head: u64,
    /// One of `PROTOCOL_*`.
    pub protocol: u32,
    /// [`ROLE_CLIENT`] or [`ROLE_SERVER`].
    pub role: u32,
    /// Bytes in `head` (at most 8).
    pub head_len: u32,
    /// The descriptor the connection was opened as: records name it whichever copy of
    /// it (`dup`, `dup2`, `dup3`, `fcntl(F_DUPFD)`) a read or write went through.
    pub fd: u32,
    /// Bytes written on the connection so far (kept in the state of the descriptor it
    /// was opened as; a copy's own are unused).
    pub sent: u64,
    /// Bytes read so far (likewise).
    pub received: u64,
}

/// The key of a followed socket.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L7Key {
    /// Thread-group id.
    pub tgid: u32,
    /// Descriptor.
    pub fd: u32,
}

/// Byte offsets of the socket members the open reads (from the running kernel's BTF).
/// `valid == 0`: unknown; the source does not start.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockFields {
    /// Non-zero when every offset below was resolved.
    pub valid: u32,
    /// `file.private_data` (the `struct socket *` of a socket's file).
    pub file_private_data: u32,
    /// `socket.type` (`short`: `SOCK_STREAM` is 1).
    pub socket_type: u32,
    /// `socket.sk` (`struct sock *`).
    pub socket_sk: u32,
    /// `sock_common.skc_family` (`unsigned short`).
    pub skc_family: u32,
    /// `sock_common.skc_num` (local port, host order).
    pub skc_num: u32,
    /// `sock_common.skc_dport` (remote port, network order).
    pub skc_dport: u32,
    /// `sock_common.skc_rcv_saddr` (local IPv4 address).
    pub skc_rcv_saddr: u32,
    /// `sock_common.skc_daddr` (remote IPv4 address).
    pub skc_daddr: u32,
    /// `sock_common.skc_v6_rcv_saddr` (local IPv6 address).
    pub skc_v6_rcv_saddr: u32,
    /// `sock_common.skc_v6_daddr` (remote IPv6 address).
    pub skc_v6_daddr: u32,
}

/// Indexes of the per-CPU stats counters of the `l7` programs.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L7Stat {
    /// Sockets that started being followed.
    Opened = 0,
    /// Followed sockets closed.
    Closed = 1,
    /// Data records emitted.
    Data = 2,
    /// Ring buffer full: a record is lost.
    RingbufFull = 3,
    /// A connection the kernel filters dropped (cgroup, comm or port).
    Filtered = 4,
    /// A connected or accepted descriptor that is not a TCP socket over IPv4/IPv6 (a Unix
    /// socket, UDP).
    NotTcp = 5,
    /// The socket behind a descriptor could not be read.
    SocketUnread = 6,
    /// Connections whose first bytes were TLS (not followed further).
    Tls = 7,
    /// Connections whose first bytes were no protocol kotel parses.
    OtherProtocol = 8,
    /// A syscall's enter state was taken by another thread before its exit (the bytes are
    /// lost).
    SlotLost = 9,
    /// The payload could not be read from user memory (a record without it is sent).
    CaptureFailed = 10,
    /// Bytes sent with `sendfile` on a followed socket (counted, not captured).
    Sendfile = 11,
    /// Copies of a followed descriptor that are followed too.
    Duplicated = 12,
}

impl L7Stat {
    /// Number of counters (size of the stats map).
    pub const COUNT: u32 = 13;
    /// Every counter, in index order.
    pub const ALL: [L7Stat; 13] = [
        L7Stat::Opened,
        L7Stat::Closed,
        L7Stat::Data,
        L7Stat::RingbufFull,
        L7Stat::Filtered,
        L7Stat::NotTcp,
        L7Stat::SocketUnread,
        L7Stat::Tls,
        L7Stat::OtherProtocol,
        L7Stat::SlotLost,
        L7Stat::CaptureFailed,
        L7Stat::Sendfile,
        L7Stat::Duplicated,
    ];
    /// Stable snake_case name, the `stat` attribute in self-telemetry.
    pub const fn name(self) -> &'static str {
        match self {
            L7Stat::Opened => "opened",
            L7Stat::Closed => "closed",
            L7Stat::Data => "data",
            L7Stat::RingbufFull => "ringbuf_full",
            L7Stat::Filtered => "filtered",
            L7Stat::NotTcp => "not_tcp",
            L7Stat::SocketUnread => "socket_unread",
            L7Stat::Tls => "tls",
            L7Stat::OtherProtocol => "other_protocol",
            L7Stat::SlotLost => "slot_lost",
            L7Stat::CaptureFailed => "capture_failed",
            L7Stat::Sendfile => "sendfile",
            L7Stat::Duplicated => "duplicated",
        }
    }
}

/// What the first bytes of a connection say about its protocol: `PROTOCOL_HTTP1`, or 0
/// with the `IGNORED_*` reason. `head` holds the first (up to) 8 bytes, little endian,
/// `len` how many are real. Shared so that user space tests exactly what the kernel runs.
#[inline(always)]
pub fn classify(head: u64, len: u64) -> (u32, u32) {
    // A TLS handshake record: content type 22, version 3.x.
    if len >= 2 && head & 0xffff == 0x0316 {
        return (0, IGNORED_TLS);
    }
    if len < 4 {
        return (0, IGNORED_OTHER);
    }
    let four = head as u32;
    let method = matches!(
        four.to_le_bytes(),
        [b'G', b'E', b'T', b' ']
            | [b'P', b'O', b'S', b'T']
            | [b'P', b'U', b'T', b' ']
            | [b'H', b'E', b'A', b'D']
            | [b'D', b'E', b'L', b'E']
            | [b'P', b'A', b'T', b'C']
            | [b'O', b'P', b'T', b'I']
            | [b'C', b'O', b'N', b'N']
            | [b'T', b'R', b'A', b'C']
            | [b'H', b'T', b'T', b'P']
    );
    if method {
        (PROTOCOL_HTTP1, 0)
    } else {
        (0, IGNORED_OTHER)
    }
}

/// Object-file names of the `l7` source's programs, maps and globals.
pub mod names {
    /// Enter of `read` (descriptor, buffer, length).
    pub const ENTER_RECV: &str = "kotel_l7_enter_recv";
    /// Enter of `recvfrom` (as `read`, skipped with `MSG_PEEK`: the bytes are read again).
    pub const ENTER_RECVFROM: &str = "kotel_l7_enter_recvfrom";
    /// Enter of `write` and `sendto`.
    pub const ENTER_SEND: &str = "kotel_l7_enter_send";
    /// Enter of `readv`.
    pub const ENTER_READV: &str = "kotel_l7_enter_readv";
    /// Enter of `writev`.
    pub const ENTER_WRITEV: &str = "kotel_l7_enter_writev";
    /// Enter of `recvmsg`.
    pub const ENTER_RECVMSG: &str = "kotel_l7_enter_recvmsg";
    /// Enter of `sendmsg`.
    pub const ENTER_SENDMSG: &str = "kotel_l7_enter_sendmsg";
    /// Enter of `sendfile64`.
    pub const ENTER_SENDFILE: &str = "kotel_l7_enter_sendfile";
    /// Enter of `connect`.
    pub const ENTER_CONNECT: &str = "kotel_l7_enter_connect";
    /// Enter of `dup`, `dup2` and `dup3` (the old descriptor first).
    pub const ENTER_DUP: &str = "kotel_l7_enter_dup";
    /// Enter of `fcntl` (only `F_DUPFD` and `F_DUPFD_CLOEXEC` matter).
    pub const ENTER_FCNTL: &str = "kotel_l7_enter_fcntl";
    /// Exit of every syscall above.
    pub const EXIT: &str = "kotel_l7_exit";
    /// Exit of `accept` and `accept4`.
    pub const EXIT_ACCEPT: &str = "kotel_l7_exit_accept";
    /// Enter of `close`.
    pub const ENTER_CLOSE: &str = "kotel_l7_enter_close";
    /// Ring buffer of records.
    pub const EVENTS: &str = "KOTEL_L7_EVENTS";
    /// Per-CPU array of `u64` counters indexed by [`super::L7Stat`].
    pub const STATS: &str = "KOTEL_L7_STATS";
    /// LRU hash [`super::L7Key`] → [`super::L7State`]: the followed sockets.
    pub const SOCKETS: &str = "KOTEL_L7_SOCKETS";
    /// Array of enter→exit slots (kernel only).
    pub const SLOTS: &str = "KOTEL_L7_SLOTS";
    /// Per-CPU scratch of one record (kernel only).
    pub const SCRATCH: &str = "KOTEL_L7_SCRATCH";
    /// Global `u32`: payload bytes captured per read or write (at most
    /// [`super::CAPTURE_MAX`]).
    pub const CAPTURE_BYTES: &str = "KOTEL_L7_CAPTURE_BYTES";
    /// Global `u32`: the agent's own thread-group id (its sockets are not followed).
    pub const OWN_TGID: &str = "KOTEL_L7_OWN_TGID";
    /// Global `u64`: wake the reader when this many bytes are unread (0: every record).
    pub const WAKEUP_BYTES: &str = "KOTEL_L7_WAKEUP_BYTES";
    /// Global [`crate::vfs::VfsFields`] (the descriptor's file).
    pub const VFS_FIELDS: &str = "KOTEL_L7_VFS_FIELDS";
    /// Global [`super::SockFields`].
    pub const SOCK_FIELDS: &str = "KOTEL_L7_SOCK_FIELDS";
    /// Syscall tracepoint category.
    pub const CATEGORY: &str = "syscalls";
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain-old-data, #[repr(C)], every bit pattern valid.
    unsafe impl aya::Pod for super::L7Header {}
    unsafe impl aya::Pod for super::ConnInfo {}
    unsafe impl aya::Pod for super::SockFields {}
    unsafe impl aya::Pod for super::L7State {}
    unsafe impl aya::Pod for super::L7Key {}
}
