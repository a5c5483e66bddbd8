//! Kernel layout the `tcp` programs need beyond their tracepoint records, resolved once at
//! start-up: struct member offsets from the running kernel's BTF and the `err` field of the
//! `tcp:tcp_retransmit_skb` record from its tracefs format.
//!
//! Contract: never fails. Each group that cannot be resolved is left zero (`valid == 0`)
//! with one warning saying what the events then lack: netns (reported as 0), bytes and RTTs
//! on close events (zeros), the socket's own cgroup for sockets without a remembered owner
//! (cgroup 0), ports for the port filter of retransmits and resets (0), and, without the
//! `tcp_sock` or ACK offsets, the RTT histograms (the RTT program is not attached).

use std::path::Path;

use kotel_common::tcp::SockOffsets;
use kotel_common::tcp_quality::{AckFields, CgroupFields, CloseFields, PortFields};

use crate::kernel::btf::{Btf, BtfError};

/// Format of the retransmit tracepoint's record.
const RETRANSMIT_FORMAT: &str = "/sys/kernel/tracing/events/tcp/tcp_retransmit_skb/format";

/// The socket field groups the programs take as globals, one global each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpSockFields {
    /// `tcp_sock` fields of a closing connection (and `srtt_us` for RTT samples).
    pub close: CloseFields,
    /// The socket's own cgroup.
    pub cgroup: CgroupFields,
    /// The socket's ports.
    pub ports: PortFields,
    /// What a segment acknowledges.
    pub ack: AckFields,
    /// Offset of `err` in the retransmit tracepoint's record (0: none).
    pub retransmit_err: u32,
}

/// Every offset the programs take as globals: the netns offsets and the socket fields.
pub fn kernel_offsets() -> (SockOffsets, TcpSockFields) {
    let (netns, fields) = match crate::kernel::shared_btf::ours() {
        Ok(btf) => (netns_offsets(&btf), sock_fields(&btf)),
        Err(e) => {
            tracing::warn!(
                "tcp source: no kernel BTF ({e}): events carry netns 0, close events carry \
                 zero bytes and RTTs, unowned sockets count under cgroup 0, and there are no \
                 tcp_rtt histograms"
            );
            (SockOffsets::default(), TcpSockFields::default())
        }
    };
    (netns, with_err_offset(fields))
}

fn netns_offsets(btf: &Btf) -> SockOffsets {
    let resolve = || -> Result<SockOffsets, BtfError> {
        let net = btf.offset_of("sock_common", &["skc_net", "net"])?;
        let ns = btf.offset_of("net", &["ns"])?;
        let inum = btf.offset_of("ns_common", &["inum"])?;
        Ok(SockOffsets {
            valid: 1,
            sock_common_net: net,
            net_ns_inum: ns + inum,
            _pad: 0,
        })
    };
    resolve().unwrap_or_else(|e| {
        tracing::warn!("tcp source: netns unknown, events carry netns 0 ({e})");
        SockOffsets::default()
    })
}

/// The four groups of [`TcpSockFields`], each resolved or left zero with a warning.
pub fn sock_fields(btf: &Btf) -> TcpSockFields {
    let mut f = TcpSockFields::default();
    let close = || -> Result<CloseFields, BtfError> {
        let rtt_min = btf.offset_of("tcp_sock", &["rtt_min", "s"])?
            + btf.offset_of("minmax_sample", &["v"])?;
        Ok(CloseFields {
            valid: 1,
            bytes_acked: btf.offset_of("tcp_sock", &["bytes_acked"])?,
            bytes_received: btf.offset_of("tcp_sock", &["bytes_received"])?,
            srtt_us: btf.offset_of("tcp_sock", &["srtt_us"])?,
            rtt_min,
            total_retrans: btf.offset_of("tcp_sock", &["total_retrans"])?,
        })
    };
    match close() {
        Ok(c) => f.close = c,
        Err(e) => tracing::warn!("tcp source: close events carry zero bytes and RTTs ({e})"),
    }
    let cgroup = || -> Result<CgroupFields, BtfError> {
        Ok(CgroupFields {
            valid: 1,
            sk_cgroup: btf.offset_of("sock", &["sk_cgrp_data", "cgroup"])?,
            cgroup_kn: btf.offset_of("cgroup", &["kn"])?,
            kn_id: btf.offset_of("kernfs_node", &["id"])?,
        })
    };
    match cgroup() {
        Ok(c) => f.cgroup = c,
        Err(e) => tracing::warn!(
            "tcp source: samples of sockets without a remembered owner count under cgroup 0 ({e})"
        ),
    }
    let ports = || -> Result<PortFields, BtfError> {
        Ok(PortFields {
            valid: 1,
            skc_num: btf.offset_of("sock_common", &["skc_num"])?,
            skc_dport: btf.offset_of("sock_common", &["skc_dport"])?,
            _pad: 0,
        })
    };
    match ports() {
        Ok(p) => f.ports = p,
        Err(e) => tracing::warn!(
            "tcp source: the port filter sees port 0 for retransmits and resets ({e})"
        ),
    }
    let ack = || -> Result<AckFields, BtfError> {
        Ok(AckFields {
            valid: 1,
            snd_una: btf.offset_of("tcp_sock", &["snd_una"])?,
            skb_ack_seq: btf.offset_of("sk_buff", &["cb"])?
                + btf.offset_of("tcp_skb_cb", &["ack_seq"])?,
            snd_nxt: btf.offset_of("tcp_sock", &["snd_nxt"])?,
        })
    };
    match ack() {
        Ok(a) => f.ack = a,
        Err(e) => tracing::warn!("tcp source: no tcp_rtt histograms ({e})"),
    }
    f
}

fn with_err_offset(mut f: TcpSockFields) -> TcpSockFields {
    f.retransmit_err = std::fs::read_to_string(Path::new(RETRANSMIT_FORMAT))
        .ok()
        .and_then(|text| field_offset(&text, "err"))
        .unwrap_or(0);
    f
}

/// Offset of field `name` in a tracefs `format` file (`field:int err;\toffset:76;...`).
pub fn field_offset(format: &str, name: &str) -> Option<u32> {
    format.lines().find_map(|line| {
        let line = line.trim();
        let decl = line.strip_prefix("field:")?.split(';').next()?;
        let field = decl.rsplit([' ', '*']).next()?;
        if field != name {
            return None;
        }
        let rest = line.split("offset:").nth(1)?;
        rest.split(';').next()?.trim().parse().ok()
    })
}

#[cfg(test)]
#[path = "offsets_tests.rs"]
mod tests;
