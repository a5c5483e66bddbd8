//! What the `tcp` source loads on a kernel: its object with the config's sizes and the
//! kernel's offsets as globals, and which of its five programs it attaches.
//!
//! Contract: [`plan`] is the one place that turns a config and the kernel's facts
//! ([`KernelFacts`]) into globals and a program list; the loader loads exactly that, and
//! `kotel doctor` and the load-combination test verify exactly that. [`every_switch`]
//! enumerates every combination of the load-time switches a kernel can produce (each
//! offset group valid or not, the retransmit record's `err` field known or not, BTF for
//! the RTT program present or not, the wakeup policy on or off).

use kotel_common::tcp::SockOffsets;
use kotel_common::{globals, maps, programs};

use super::config::TcpSourceConfig;
use super::offsets::{kernel_offsets, TcpSockFields};
use crate::kernel::spec::{
    combination_label, Attach, Combination, LoadPlan, Need, ObjectSpec, Planned, ProgramSpec,
};

/// The kernel object built by `collector/build.rs` (empty with `AYA_BUILD_SKIP=1`).
pub(super) static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kotel-tcp"));

/// Most listening sockets remembered at once, capped by `max_tracked_sockets`.
const MAX_LISTENERS: u32 = 8192;

/// The connection lifecycle program: the source cannot run without it.
pub const LIFECYCLE: ProgramSpec = ProgramSpec {
    name: programs::TCP_STATE,
    attach: Attach::TracePoint {
        category: programs::TCP_STATE_CATEGORY,
        name: programs::TCP_STATE_TRACEPOINT,
    },
};

/// The retransmit and reset counters, each on its own tracepoint.
pub const COUNTERS: [ProgramSpec; 3] = [
    counter(
        programs::TCP_RETRANSMIT,
        programs::TCP_RETRANSMIT_TRACEPOINT,
    ),
    counter(
        programs::TCP_SEND_RESET,
        programs::TCP_SEND_RESET_TRACEPOINT,
    ),
    counter(
        programs::TCP_RECEIVE_RESET,
        programs::TCP_RECEIVE_RESET_TRACEPOINT,
    ),
];

const fn counter(name: &'static str, tracepoint: &'static str) -> ProgramSpec {
    ProgramSpec {
        name,
        attach: Attach::TracePoint {
            category: programs::TCP_CATEGORY,
            name: tracepoint,
        },
    }
}

/// RTT samples (`tp_btf/tcp_probe`): needs the kernel's BTF and the `tcp_sock` and ACK
/// offsets.
pub const RTT: ProgramSpec = ProgramSpec {
    name: programs::TCP_RTT,
    attach: Attach::BtfTracePoint {
        name: programs::TCP_RTT_TRACEPOINT,
    },
};

/// What the running kernel decides about the programs before they load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelFacts {
    /// Offsets to a socket's netns (`valid == 0`: netns reported as 0).
    pub netns: SockOffsets,
    /// Socket field offsets, one `valid` flag per group.
    pub fields: TcpSockFields,
    /// The kernel's BTF is there (the RTT program needs it to load).
    pub btf: bool,
}

impl KernelFacts {
    /// The running kernel's facts (one warning per group it lacks).
    pub fn of_running_kernel() -> Self {
        let (netns, fields) = kernel_offsets();
        Self {
            netns,
            fields,
            btf: std::path::Path::new(crate::kernel::btf::VMLINUX).exists(),
        }
    }

    /// Whether the RTT program is planned: it reads `tcp_sock` and the ACK sequence.
    pub fn rtt(&self) -> bool {
        self.btf && self.fields.close.valid != 0 && self.fields.ack.valid != 0
    }
}

/// The plan for `config` on a kernel with `facts`: lifecycle first, then the counters
/// (before the RTT program, so a socket sampled for RTT is counted too), then RTT.
pub fn plan(config: &TcpSourceConfig, facts: &KernelFacts) -> LoadPlan {
    let wakeup = u64::from(config.wakeup_bytes);
    let spec = ObjectSpec::new("tcp", OBJECT)
        .global(globals::TCP_SOCK_OFFSETS, &facts.netns)
        .global(globals::TCP_CLOSE_FIELDS, &facts.fields.close)
        .global(globals::TCP_CGROUP_FIELDS, &facts.fields.cgroup)
        .global(globals::TCP_PORT_FIELDS, &facts.fields.ports)
        .global(globals::TCP_ACK_FIELDS, &facts.fields.ack)
        .global(globals::TCP_RETRANSMIT_ERR, &facts.fields.retransmit_err)
        .global(globals::TCP_WAKEUP_BYTES, &wakeup)
        .global(globals::TCP_HIST_ROWS, &config.histogram_rows)
        .map_size(maps::TCP_HIST, 2 * config.histogram_rows)
        .map_size(maps::TCP_COUNTERS, 2 * config.histogram_rows)
        .map_size(maps::TCP_EVENTS, config.ring_buffer_bytes)
        .map_size(maps::TCP_SOCKS, config.max_tracked_sockets)
        .map_size(
            maps::TCP_LISTENERS,
            config.max_tracked_sockets.min(MAX_LISTENERS),
        );
    let mut programs = vec![Planned {
        program: LIFECYCLE,
        need: Need::Required,
    }];
    programs.extend(COUNTERS.iter().map(|&program| Planned {
        program,
        need: Need::Optional,
    }));
    let mut left_out = Vec::new();
    if facts.rtt() {
        programs.push(Planned {
            program: RTT,
            need: Need::Optional,
        });
    } else {
        left_out.push(format!(
            "{} left out: it needs the kernel's BTF and its tcp_sock/tcp_skb_cb offsets; no tcp_rtt histograms",
            RTT.name
        ));
    }
    LoadPlan {
        spec,
        programs,
        left_out,
        method: Vec::new(),
    }
}

/// One plan per combination of the load-time switches a kernel can produce, labelled by
/// the switches that are off. Groups can only be valid with the offsets of a kernel that
/// has them: `facts` (the running kernel's) supplies those; a group `facts` lacks is
/// only ever invalid.
pub fn every_switch(config: &TcpSourceConfig, facts: &KernelFacts) -> Vec<Combination> {
    let switches: [(&str, bool); 7] = [
        ("btf", facts.btf),
        ("netns", facts.netns.valid != 0),
        ("close_fields", facts.fields.close.valid != 0),
        ("cgroup_fields", facts.fields.cgroup.valid != 0),
        ("port_fields", facts.fields.ports.valid != 0),
        ("ack_fields", facts.fields.ack.valid != 0),
        ("retransmit_err", facts.fields.retransmit_err != 0),
    ];
    let mut plans = Vec::new();
    for bits in 0u32..(1 << (switches.len() + 1)) {
        let on = |i: usize| bits & (1 << i) != 0;
        // A switch the kernel cannot turn on stays off (each combination once).
        if (0..switches.len()).any(|i| on(i) && !switches[i].1) {
            continue;
        }
        let mut f = *facts;
        f.btf = on(0);
        if !on(1) {
            f.netns = SockOffsets::default();
        }
        let mut fields = facts.fields;
        for (i, valid) in [
            (2, &mut fields.close.valid),
            (3, &mut fields.cgroup.valid),
            (4, &mut fields.ports.valid),
            (5, &mut fields.ack.valid),
            (6, &mut fields.retransmit_err),
        ] {
            if !on(i) {
                *valid = 0;
            }
        }
        f.fields = fields;
        let wakeup = on(switches.len());
        let mut c = config.clone();
        if !wakeup {
            c.wakeup_bytes = 0;
        }
        let mut off: Vec<&str> = (0..switches.len())
            .filter(|&i| !on(i))
            .map(|i| switches[i].0)
            .collect();
        if !wakeup {
            off.push("wakeup");
        }
        plans.push(Combination {
            label: combination_label(&off),
            plan: plan(&c, &f),
            btf: f.btf,
        });
    }
    plans
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
