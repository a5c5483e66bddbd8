//! Loads the `tcp` source's [`plan`](super::plan) and attaches its programs.
//!
//! Contract: [`attach`] either returns an [`Attached`] whose lifecycle program is attached to
//! `sock:inet_sock_set_state`, or an error: [`ComponentError::Rejected`] when the verifier
//! refuses a program (the source is not retried), [`ComponentError::Startup`] for anything
//! else (bad config, missing privileges, a missing required hook). The quality programs
//! run where their hooks exist: the RTT program (`tp_btf/tcp_probe`) needs the kernel's
//! BTF and its socket offsets, the retransmit and reset counters their tracepoints; each
//! one this kernel lacks is named in a warning and the start-up log line says what runs.
//! It never fails on RLIMIT_MEMLOCK (kernels >= 5.11 charge BPF memory to the cgroup) and
//! mounts tracefs when `/sys/kernel/tracing/events` is missing. Without usable BTF the
//! programs still run (see `offsets`). Dropping the [`Attached`] detaches every program and
//! frees its maps.

use kotel_common::programs;

use super::config::TcpSourceConfig;
use super::plan::{plan, KernelFacts, OBJECT, RTT};
use crate::component::ComponentError;
use crate::kernel::attach::load_and_attach;
use crate::kernel::filter::KernelFilter;
use crate::kernel::load::prepare;
use crate::kernel::source::Attached;

/// Loads the object with the config's sizes and the running kernel's offsets, and attaches.
/// `source` is the component id.
pub fn attach(source: &str, config: &TcpSourceConfig) -> Result<Attached<()>, ComponentError> {
    // tracefs first: the facts read the retransmit record's format from it.
    prepare(OBJECT, config.validate())?;
    let facts = KernelFacts::of_running_kernel();
    let plan = plan(config, &facts);
    // Parsed once: the loader relocates against it and the RTT program attaches with it.
    let btf = crate::kernel::shared_btf::aya();
    let (loaded, filter) = load_and_attach(source, &plan, btf.as_deref(), |ebpf| {
        let mut filter = KernelFilter::take(ebpf, &config.cgroup_root)?;
        filter.apply(&config.filter)?;
        Ok(filter)
    })?;
    let runs = |name: &str| loaded.attached.iter().any(|a| a.starts_with(name));
    if !facts.rtt() {
        tracing::warn!(
            component = %source,
            "no tcp_rtt histograms: {} needs the kernel's BTF and its tcp_sock/tcp_skb_cb offsets",
            RTT.name
        );
    }
    tracing::info!(
        component = %source,
        ring_buffer_bytes = config.ring_buffer_bytes,
        max_tracked_sockets = config.max_tracked_sockets,
        wakeup_bytes = config.wakeup_bytes,
        netns = facts.netns.valid != 0,
        close_stats = facts.fields.close.valid != 0,
        rtt = runs(programs::TCP_RTT),
        counters = runs(programs::TCP_RETRANSMIT)
            && runs(programs::TCP_SEND_RESET)
            && runs(programs::TCP_RECEIVE_RESET),
        programs = %loaded.attached.join(", "),
        "tcp source attached to {}:{}",
        programs::TCP_STATE_CATEGORY,
        programs::TCP_STATE_TRACEPOINT,
    );
    drop(btf);
    crate::kernel::shared_btf::return_freed_memory();
    Ok(Attached {
        held: (),
        filter,
        ebpf: loaded.ebpf,
    })
}
