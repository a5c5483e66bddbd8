//! The `tcp` source: connection lifecycle from `sock:inet_sock_set_state`.

mod config;

pub use config::TcpSourceConfig;
