//! Loads the embedded kernel object and attaches the `tcp` program.
//!
//! Contract: [`attach`] either returns a [`Kernel`] whose program is attached to
//! `sock:inet_sock_set_state`, or a [`ComponentError::Startup`] saying what to fix. It
//! never fails on RLIMIT_MEMLOCK (kernels >= 5.11 charge BPF memory to the cgroup) and it
//! mounts tracefs when `/sys/kernel/tracing/events` is missing. Without usable BTF the
//! program still runs and reports netns 0 (logged once). Dropping the [`Kernel`] detaches
//! the program and frees its maps.

use aya::programs::TracePoint;
use aya::{Ebpf, EbpfLoader};
use kotel_common::tcp::SockOffsets;
use kotel_common::{globals, maps, programs};

use super::config::TcpSourceConfig;
use crate::kernel::btf::{Btf, BtfError};
use crate::kernel::load::{ensure_tracefs, raise_memlock, startup};
use crate::pipeline::ComponentError;
use crate::sources::kernel_filter::KernelFilter;

/// The kernel object built by `collector/build.rs` (empty with `AYA_BUILD_SKIP=1`).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kotel-tcp"));

/// Most listening sockets remembered at once, capped by `max_tracked_sockets`.
const MAX_LISTENERS: u32 = 8192;

/// The loaded object; the program stays attached while this lives.
pub struct Kernel {
    /// Maps and the attached program.
    pub ebpf: Ebpf,
    /// The filter maps, taken out of `ebpf`.
    pub filter: KernelFilter,
}

/// Loads the object with the config's sizes and the running kernel's offsets, and attaches.
pub fn attach(config: &TcpSourceConfig) -> Result<Kernel, ComponentError> {
    let problems = config.validate();
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        return Err(ComponentError::Startup(text.join("; ")));
    }
    if OBJECT.is_empty() {
        return Err(ComponentError::Startup(
            "this kotel was built without kernel programs (AYA_BUILD_SKIP); rebuild without it"
                .into(),
        ));
    }
    raise_memlock();
    ensure_tracefs();
    let offsets = sock_offsets();
    let wakeup = u64::from(config.wakeup_bytes);
    let mut ebpf = EbpfLoader::new()
        .override_global(globals::TCP_SOCK_OFFSETS, &offsets, true)
        .override_global(globals::TCP_WAKEUP_BYTES, &wakeup, true)
        .map_max_entries(maps::TCP_EVENTS, config.ring_buffer_bytes)
        .map_max_entries(maps::TCP_SOCKS, config.max_tracked_sockets)
        .map_max_entries(
            maps::TCP_LISTENERS,
            config.max_tracked_sockets.min(MAX_LISTENERS),
        )
        .load(OBJECT)
        .map_err(|e| startup("loading the tcp kernel object", &e))?;
    let mut filter = KernelFilter::take(&mut ebpf)?;
    filter.apply(&config.filter)?;
    let program: &mut TracePoint = ebpf
        .program_mut(programs::TCP_STATE)
        .ok_or_else(|| {
            ComponentError::Startup(format!(
                "program {} missing from the object",
                programs::TCP_STATE
            ))
        })?
        .try_into()
        .map_err(|e| startup("program type", &e))?;
    program
        .load()
        .map_err(|e| startup("loading the tcp program", &e))?;
    program
        .attach(programs::TCP_STATE_CATEGORY, programs::TCP_STATE_TRACEPOINT)
        .map_err(|e| startup("attaching to sock:inet_sock_set_state", &e))?;
    tracing::info!(
        ring_buffer_bytes = config.ring_buffer_bytes,
        max_tracked_sockets = config.max_tracked_sockets,
        wakeup_bytes = config.wakeup_bytes,
        netns = offsets.valid != 0,
        "tcp source attached to {}:{}",
        programs::TCP_STATE_CATEGORY,
        programs::TCP_STATE_TRACEPOINT,
    );
    Ok(Kernel { ebpf, filter })
}

/// Offsets of `sock -> skc_net.net -> ns.inum` from /sys/kernel/btf/vmlinux, or
/// `valid == 0` (netns reported as 0) with a warning saying why.
pub fn sock_offsets() -> SockOffsets {
    let resolve = || -> Result<SockOffsets, BtfError> {
        let btf = Btf::from_sys_fs()?;
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
    match resolve() {
        Ok(o) => {
            tracing::debug!(
                sock_common_net = o.sock_common_net,
                net_ns_inum = o.net_ns_inum,
                "netns offsets from BTF"
            );
            o
        }
        Err(e) => {
            tracing::warn!("tcp source: netns unknown, events carry netns 0 ({e})");
            SockOffsets::default()
        }
    }
}
