//! Requests and responses read from socket syscalls (the `l7` source, issue 18). So far
//! the protocol side: [`http1`] parses HTTP/1.x message heads and frames bodies from the
//! first bytes the kernel captures of each message, and [`route`] bounds `http.route`.
//! The kernel programs, pairing and spans build on them.

pub mod http1;
pub mod route;
