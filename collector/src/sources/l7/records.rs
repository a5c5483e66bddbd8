//! The `l7` kernel programs' ring records, checked and decoded (see `kotel_common::l7`).
//!
//! Contract: [`Record::parse`] never panics; a record of the wrong length or an unknown
//! kind is a [`RecordError`] (its `reason` labels the decode-error counter).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use kotel_common::l7::{
    ConnInfo, L7Header, AF_INET, AF_INET6, CAPTURE_MAX, DATA_SEND, HEADER_BYTES, RECORD_CLOSE,
    RECORD_DATA, RECORD_IGNORED, RECORD_OPEN, ROLE_CLIENT, ROLE_SERVER,
};

/// A followed connection's identity: process, descriptor, and when it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnKey {
    /// Thread-group id.
    pub tgid: u32,
    /// Descriptor.
    pub fd: u32,
}

/// What an open record says about a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The process answers requests on it (else it makes them).
    pub server: bool,
    /// cgroup v2 id of the process.
    pub cgroup_id: u64,
    /// Task name.
    pub comm: Arc<str>,
    /// The process's end (IPv4-mapped IPv6 addresses shown as IPv4).
    pub local: SocketAddr,
    /// The other end.
    pub peer: SocketAddr,
}

/// One decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A socket starts being followed.
    Open(Header, Opened),
    /// A read (`send == false`) or write; `bytes` are the first of `header.size`.
    Data {
        header: Header,
        send: bool,
        bytes: &'a [u8],
    },
    /// The descriptor was closed.
    Close(Header),
    /// The first bytes were not a protocol kotel parses; `tls` says whether they were TLS.
    Ignored { header: Header, tls: bool },
}

/// The fields every record has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Which connection.
    pub key: ConnKey,
    /// When it was opened (kernel monotonic ns).
    pub opened_ns: u64,
    /// Syscall enter (kernel monotonic ns). Data records carry one time per syscall
    /// (`start_ns == end_ns`): a client's write's enter, any other read or write's exit.
    pub start_ns: u64,
    /// Syscall return (for data records, as `start_ns`).
    pub end_ns: u64,
    /// Bytes moved.
    pub size: u64,
    /// Bytes the connection moved the same way before (data records).
    pub offset: u64,
    /// Raw flags.
    pub flags: u32,
}

/// Why a record does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Shorter than its kind needs, or captured bytes beyond its end.
    #[error("l7 record of {0} bytes is too short")]
    Truncated(usize),
    /// An unknown kind.
    #[error("l7 record of unknown kind {0}")]
    Kind(u32),
    /// An open record with an unknown role or address family.
    #[error("l7 open record: {0}")]
    Open(&'static str),
}

impl RecordError {
    /// The `reason` label.
    pub fn reason(&self) -> &'static str {
        match self {
            RecordError::Truncated(_) => "truncated",
            RecordError::Kind(_) => "kind",
            RecordError::Open(_) => "open",
        }
    }
}

fn read<T: Copy>(bytes: &[u8], at: usize) -> Option<T> {
    let end = at.checked_add(std::mem::size_of::<T>())?;
    let src = bytes.get(at..end)?;
    // SAFETY: `src` holds size_of::<T>() bytes; T is plain data (every bit pattern valid);
    // an unaligned read.
    Some(unsafe { std::ptr::read_unaligned(src.as_ptr().cast::<T>()) })
}

impl<'a> Record<'a> {
    /// Decodes one ring record.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, RecordError> {
        let raw: L7Header = read(bytes, 0).ok_or(RecordError::Truncated(bytes.len()))?;
        let header = Header {
            key: ConnKey {
                tgid: raw.tgid,
                fd: raw.fd,
            },
            opened_ns: raw.opened_ns,
            start_ns: raw.start_ns,
            end_ns: raw.end_ns,
            size: raw.size,
            offset: raw.offset,
            flags: raw.flags,
        };
        match raw.kind {
            RECORD_OPEN => {
                let info: ConnInfo =
                    read(bytes, HEADER_BYTES).ok_or(RecordError::Truncated(bytes.len()))?;
                Ok(Record::Open(header, opened(&info)?))
            }
            RECORD_DATA => {
                let captured = raw.captured as usize;
                let payload = bytes
                    .get(HEADER_BYTES..HEADER_BYTES + captured)
                    .filter(|_| captured <= CAPTURE_MAX)
                    .ok_or(RecordError::Truncated(bytes.len()))?;
                Ok(Record::Data {
                    header,
                    send: raw.flags & DATA_SEND != 0,
                    bytes: payload,
                })
            }
            RECORD_CLOSE => Ok(Record::Close(header)),
            RECORD_IGNORED => Ok(Record::Ignored {
                header,
                tls: raw.flags & kotel_common::l7::IGNORED_TLS != 0,
            }),
            other => Err(RecordError::Kind(other)),
        }
    }
}

fn opened(info: &ConnInfo) -> Result<Opened, RecordError> {
    let server = match info.role {
        ROLE_SERVER => true,
        ROLE_CLIENT => false,
        _ => return Err(RecordError::Open("unknown role")),
    };
    let addr = |bytes: &[u8; 16]| -> Result<IpAddr, RecordError> {
        match info.family {
            AF_INET => Ok(IpAddr::V4(Ipv4Addr::new(
                bytes[0], bytes[1], bytes[2], bytes[3],
            ))),
            AF_INET6 => {
                let v6 = Ipv6Addr::from(*bytes);
                Ok(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
            }
            _ => Err(RecordError::Open("unknown address family")),
        }
    };
    let comm_len = info
        .comm
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(info.comm.len());
    Ok(Opened {
        server,
        cgroup_id: info.cgroup_id,
        comm: Arc::from(String::from_utf8_lossy(&info.comm[..comm_len])),
        local: SocketAddr::new(addr(&info.local_addr)?, info.local_port),
        peer: SocketAddr::new(addr(&info.remote_addr)?, info.remote_port),
    })
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
