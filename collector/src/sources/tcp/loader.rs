//! Loads the embedded kernel object and attaches the `tcp` programs.
//!
//! Contract: [`attach`] either returns a [`Kernel`] whose lifecycle program is attached to
//! `sock:inet_sock_set_state`, or a [`ComponentError::Startup`] saying what to fix. The
//! quality programs are best effort: the RTT program (`tp_btf/tcp_probe`, which needs the
//! kernel's BTF) and the retransmit/reset tracepoints each log a warning and stay off when
//! they cannot attach (the start-up log line says what runs). It never fails on RLIMIT_MEMLOCK (kernels >= 5.11
//! charge BPF memory to the cgroup) and it mounts tracefs when
//! `/sys/kernel/tracing/events` is missing. Without usable BTF the programs still run
//! (see `offsets`). Dropping the [`Kernel`] detaches every program and frees its maps.

use aya::programs::{BtfTracePoint, TracePoint};
use aya::{Ebpf, EbpfLoader};
use kotel_common::{globals, maps, programs};

use super::config::TcpSourceConfig;
use super::offsets::kernel_offsets;
use crate::kernel::load::{prepare, startup};
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
    prepare(OBJECT, config.validate())?;
    let (offsets, fields) = kernel_offsets();
    let wakeup = u64::from(config.wakeup_bytes);
    // Parsed once: the loader relocates against it and the RTT program attaches with it.
    let btf = aya::Btf::from_sys_fs().ok();
    let mut ebpf = EbpfLoader::new()
        .btf(btf.as_ref())
        .override_global(globals::TCP_SOCK_OFFSETS, &offsets, true)
        .override_global(globals::TCP_SOCK_FIELDS, &fields, true)
        .override_global(globals::TCP_WAKEUP_BYTES, &wakeup, true)
        .override_global(globals::TCP_HIST_ROWS, &config.histogram_rows, true)
        .map_max_entries(maps::TCP_HIST, 2 * config.histogram_rows)
        .map_max_entries(maps::TCP_COUNTERS, 2 * config.histogram_rows)
        .map_max_entries(maps::TCP_EVENTS, config.ring_buffer_bytes)
        .map_max_entries(maps::TCP_SOCKS, config.max_tracked_sockets)
        .map_max_entries(
            maps::TCP_LISTENERS,
            config.max_tracked_sockets.min(MAX_LISTENERS),
        )
        .load(OBJECT)
        .map_err(|e| startup("loading the tcp kernel object", &e))?;
    let mut filter = KernelFilter::take(&mut ebpf, &config.cgroup_root)?;
    filter.apply(&config.filter)?;
    tracepoint(
        &mut ebpf,
        programs::TCP_STATE,
        programs::TCP_STATE_CATEGORY,
        programs::TCP_STATE_TRACEPOINT,
    )?;
    // The counters before the RTT program: a socket sampled for RTT is counted too.
    let mut counters = true;
    for (name, tp) in [
        (programs::TCP_RETRANSMIT, "tcp_retransmit_skb"),
        (programs::TCP_SEND_RESET, "tcp_send_reset"),
        (programs::TCP_RECEIVE_RESET, "tcp_receive_reset"),
    ] {
        if let Err(e) = tracepoint(&mut ebpf, name, programs::TCP_CATEGORY, tp) {
            tracing::warn!("tcp source: retransmits/resets not counted: {e}");
            counters = false;
        }
    }
    let rtt = match rtt_probe(
        &mut ebpf,
        btf.as_ref(),
        fields.valid != 0 && fields.ack_valid != 0,
    ) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("tcp source: no tcp_rtt histograms: {e}");
            false
        }
    };
    tracing::info!(
        ring_buffer_bytes = config.ring_buffer_bytes,
        max_tracked_sockets = config.max_tracked_sockets,
        wakeup_bytes = config.wakeup_bytes,
        netns = offsets.valid != 0,
        close_stats = fields.valid != 0,
        rtt,
        counters,
        "tcp source attached to {}:{}",
        programs::TCP_STATE_CATEGORY,
        programs::TCP_STATE_TRACEPOINT,
    );
    Ok(Kernel { ebpf, filter })
}

fn missing(name: &str) -> ComponentError {
    ComponentError::Startup(format!("program {name} missing from the object"))
}

/// Loads program `name` and attaches it to tracepoint `category:tp`.
fn tracepoint(ebpf: &mut Ebpf, name: &str, category: &str, tp: &str) -> Result<(), ComponentError> {
    let program: &mut TracePoint = ebpf
        .program_mut(name)
        .ok_or_else(|| missing(name))?
        .try_into()
        .map_err(|e| startup("program type", &e))?;
    program
        .load()
        .map_err(|e| startup(&format!("loading {name}"), &e))?;
    program
        .attach(category, tp)
        .map_err(|e| startup(&format!("attaching to {category}:{tp}"), &e))?;
    Ok(())
}

/// Loads the RTT program and attaches it to `tp_btf/tcp_probe`. It needs the kernel's BTF
/// (`btf`, the copy the object was loaded with) and the `tcp_sock`/`tcp_skb_cb` offsets
/// resolved from it (`fields_known`).
fn rtt_probe(
    ebpf: &mut Ebpf,
    btf: Option<&aya::Btf>,
    fields_known: bool,
) -> Result<(), ComponentError> {
    let (Some(btf), true) = (btf, fields_known) else {
        return Err(ComponentError::Startup(
            "no tcp_sock/tcp_skb_cb offsets (kernel BTF at /sys/kernel/btf/vmlinux)".into(),
        ));
    };
    let program: &mut BtfTracePoint = ebpf
        .program_mut(programs::TCP_RTT)
        .ok_or_else(|| missing(programs::TCP_RTT))?
        .try_into()
        .map_err(|e| startup("program type", &e))?;
    program
        .load(programs::TCP_RTT_TRACEPOINT, btf)
        .map_err(|e| startup("loading the RTT program", &e))?;
    program.attach().map_err(|e| {
        startup(
            &format!("attaching tp_btf/{}", programs::TCP_RTT_TRACEPOINT),
            &e,
        )
    })?;
    Ok(())
}
