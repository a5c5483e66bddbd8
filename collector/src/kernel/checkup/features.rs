//! What the running kernel offers: release, BTF, lockdown, tracefs, bpffs, memlock,
//! program and map types, privileges. Each examination adds findings; none fails.

use std::path::Path;

use aya::maps::MapType;
use aya::programs::ProgramType;
use aya::sys::{is_map_supported, is_program_supported};

use crate::component::checkup::{Report, Status};
use crate::kernel::btf::{Btf, VMLINUX};
use crate::kernel::privileges::{effective_capabilities, may_load_bpf};
use crate::node::mounts::fs_type_at;

const TRACEFS: &str = "/sys/kernel/tracing";

/// Kernel release, BTF, lockdown, tracefs, bpffs, memlock and the program types kotel
/// uses or could use.
pub fn kernel(report: &mut Report) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    report.add("kernel", Status::Info, format!("Linux {}", release.trim()));

    match Btf::from_sys_fs() {
        Ok(_) => report.add(
            "BTF",
            Status::Ok,
            format!("{VMLINUX}: netns, socket fields and the RTT program (tp_btf) need it"),
        ),
        Err(e) => report.add(
            "BTF",
            Status::Warn,
            format!("{e}: events carry netns 0 and no socket fields; no RTT histograms"),
        ),
    }
    match std::fs::read_to_string("/sys/kernel/security/lockdown") {
        Ok(text) => {
            let mode = text
                .split_whitespace()
                .find(|w| w.starts_with('['))
                .unwrap_or("?");
            report.add("lockdown", Status::Info, mode.to_string())
        }
        Err(_) => report.add("lockdown", Status::Info, "unknown (securityfs not mounted)"),
    }
    program_type(
        report,
        "tracepoints",
        ProgramType::TracePoint,
        "every source attaches to tracepoints",
    );
    match is_program_supported(ProgramType::Tracing) {
        Ok(true) => report.add("fentry/fexit", Status::Ok, "available (kotel uses tracepoints, which need less)"),
        Ok(false) | Err(_) => report.add(
            "fentry/fexit",
            Status::Warn,
            "the kernel refuses them here (lockdown or no BPF trampolines); kotel uses tracepoints instead",
        ),
    }
    let kprobes = Path::new(TRACEFS).join("kprobe_events").exists()
        || Path::new("/sys/kernel/debug/tracing/kprobe_events").exists();
    report.add(
        "kprobes",
        if kprobes { Status::Ok } else { Status::Warn },
        if kprobes {
            "available (kotel does not need them)"
        } else {
            "not available (CONFIG_KPROBES off); kotel does not need them"
        },
    );

    let tracefs = Path::new(TRACEFS).join("events").exists();
    report.add(
        "tracefs",
        if tracefs { Status::Ok } else { Status::Warn },
        if tracefs {
            format!("mounted at {TRACEFS}")
        } else {
            format!("not mounted at {TRACEFS}; kotel mounts it when a source starts")
        },
    );
    let bpffs = fs_type_at(Path::new("/sys/fs/bpf")).as_deref() == Some("bpf");
    report.add(
        "bpffs",
        if bpffs { Status::Ok } else { Status::Info },
        if bpffs {
            "mounted at /sys/fs/bpf"
        } else {
            "not mounted at /sys/fs/bpf (kotel pins nothing; bpftool likes it)"
        },
    );
    report.add("memlock", Status::Info, memlock());
}

fn program_type(report: &mut Report, subject: &str, kind: ProgramType, what: &str) {
    match is_program_supported(kind) {
        Ok(true) => report.add(subject, Status::Ok, what),
        Ok(false) => report.add(
            subject,
            Status::Warn,
            format!("not supported by this kernel ({what})"),
        ),
        Err(e) => report.add(subject, Status::Warn, format!("could not probe: {e}")),
    }
}

/// Whether this process may load programs (root, or CAP_BPF with CAP_PERFMON); returns it.
pub fn privileges(report: &mut Report) -> bool {
    let caps = effective_capabilities();
    let may = may_load_bpf(caps);
    if may {
        report.add(
            "privileges",
            Status::Ok,
            format!("may load eBPF programs (CapEff {caps:#x})"),
        );
    } else {
        report.add(
            "privileges",
            Status::Missing,
            format!("needs root, or CAP_BPF and CAP_PERFMON (CapEff {caps:#x})"),
        );
    }
    may
}

/// Whether BPF ring buffers exist (kernel 5.8+); every source sends events through one.
pub fn ring_buffer(report: &mut Report) {
    match is_map_supported(MapType::RingBuf) {
        Ok(true) => report.add(
            "ring buffer",
            Status::Ok,
            "BPF_MAP_TYPE_RINGBUF (kernel 5.8+)",
        ),
        Ok(false) => report.add(
            "ring buffer",
            Status::Missing,
            "BPF_MAP_TYPE_RINGBUF is not supported (needs kernel 5.8+)",
        ),
        Err(e) if may_load_bpf(effective_capabilities()) => report.add(
            "ring buffer",
            Status::Missing,
            format!("probing failed: {e}"),
        ),
        Err(_) => report.add("ring buffer", Status::Warn, "not probed without privileges"),
    }
}

fn memlock() -> String {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid resource and out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return "RLIMIT_MEMLOCK unreadable".into();
    }
    let cur = if limit.rlim_cur == libc::RLIM_INFINITY {
        "unlimited".to_string()
    } else {
        format!("{} KiB", limit.rlim_cur / 1024)
    };
    format!("RLIMIT_MEMLOCK {cur}; kernels 5.11+ charge BPF memory to the cgroup instead")
}
