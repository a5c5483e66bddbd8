//! Types shared by kotel's kernel programs (`kotel-probes`) and its agent (`kotel`).
//!
//! Everything here is `#[repr(C)]`, fixed-size and free of `bool` (flags are `u32`), so the
//! kernel writes exactly the bytes user space reads. Map and program names are constants
//! here and nowhere else.
#![no_std]

pub mod tcp;

/// Names of the kernel programs, as the loader looks them up in the object file.
pub mod programs {
    /// `sock:inet_sock_set_state` tracepoint handler of the `tcp` source.
    pub const TCP_STATE: &str = "kotel_tcp_state";
}

/// Names of the maps, as the loader looks them up in the object file.
pub mod maps {
    /// Ring buffer carrying [`crate::tcp::TcpEvent`] records to user space.
    pub const TCP_EVENTS: &str = "KOTEL_TCP_EVENTS";
    /// LRU hash: socket address -> [`crate::tcp::SockOwner`] of an open connection.
    pub const TCP_SOCKS: &str = "KOTEL_TCP_SOCKS";
    /// LRU hash: [`crate::tcp::ListenerKey`] -> [`crate::tcp::SockOwner`] of a listening socket.
    pub const TCP_LISTENERS: &str = "KOTEL_TCP_LISTENERS";
    /// Per-CPU array of `u64` counters indexed by [`crate::tcp::TcpStat`].
    pub const TCP_STATS: &str = "KOTEL_TCP_STATS";
}

/// Names of global variables that the agent sets before loading (`EbpfLoader::set_global`).
pub mod globals {
    /// [`crate::tcp::SockOffsets`] of the running kernel, read from its BTF.
    pub const TCP_SOCK_OFFSETS: &str = "KOTEL_TCP_SOCK_OFFSETS";
}
