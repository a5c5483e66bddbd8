//! Kernel-side cost of the `file_open` programs per open (a benchmark, not a timed test):
//! with `kernel.bpf_stats_enabled=1`, the programs' `run_time_ns / run_cnt` over bursts of
//! unwatched opens and of watched ones. Run as root:
//! `cargo bench -p kotel-integration-tests --bench file_open_cost`.
//!
//! The figures include bpf_stats' own accounting (on a 2-vCPU VM, a program that returns at
//! once measured 40-50 ns per run); other processes' opens during a burst are counted too.

use std::fs::File;
use std::time::Duration;

use kotel_common::file_open::names;

#[allow(dead_code)] // shared with the file_open root tests; the benchmark uses a part
#[path = "../tests/file_open_kernel/attached.rs"]
mod attached;

use attached::{Attached, WatchDir};
use kotel::sources::file_open::{FileOpenSourceConfig, KERNEL_EVENTS};
use kotel_integration_tests::{is_root, skip, support};

fn config(paths: Vec<String>) -> FileOpenSourceConfig {
    FileOpenSourceConfig {
        paths,
        ..FileOpenSourceConfig::default()
    }
}

fn kernel_stat(stat: &str) -> f64 {
    kotel::telemetry::snapshot().counter_sum(KERNEL_EVENTS, &[("stat", stat)])
}

const STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";
/// Opens per burst (the ring buffer below holds all the watched ones).
const OPENS: u64 = 20_000;
const ROUNDS: usize = 3;

/// `(run_time_ns, run_cnt)` of the loaded programs named `name`, summed (`bpftool`).
fn stats(name: &str) -> (u64, u64) {
    let out = std::process::Command::new("bpftool")
        .args(["prog", "show", "-j"])
        .output()
        .expect("running bpftool (scripts/setup.sh installs it)");
    let progs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("bpftool JSON");
    progs
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| {
            let n = |k: &str| p[k].as_u64().unwrap_or(0);
            (n("run_time_ns"), n("run_cnt"))
        })
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// ns per run of the openat enter program and of the exit program over `OPENS` opens.
fn burst(path: &str) -> (f64, f64) {
    let (e0, x0) = (stats(names::PROG_ENTER_OPENAT), stats(names::PROG_EXIT));
    for _ in 0..OPENS {
        let _ = File::open(path);
    }
    let (e1, x1) = (stats(names::PROG_ENTER_OPENAT), stats(names::PROG_EXIT));
    let per = |a: (u64, u64), b: (u64, u64)| (b.0 - a.0) as f64 / (b.1 - a.1).max(1) as f64;
    (per(e0, e1), per(x0, x1))
}

fn main() {
    if !is_root() {
        return skip("file_open_cost", "bpf stats need root");
    }
    // Alone: another test's source would run its own copies of the programs meanwhile.
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let previous = std::fs::read_to_string(STATS_SYSCTL).unwrap_or_else(|_| "0".into());
    std::fs::write(STATS_SYSCTL, "1").expect("enabling bpf stats");
    let dir = WatchDir::create("cost");
    std::fs::write(dir.path("warmup"), b"").unwrap();
    let mut cfg = config(vec![
        dir.prefix(),
        "/etc/shadow".into(),
        "/var/run/secrets/".into(),
        "/root/.ssh/".into(),
    ]);
    cfg.ring_buffer_bytes = 64 << 20; // 20 000 records of 1632 bytes per burst
    let mut source = Attached::start(cfg);
    source.warm_up(&dir.0.join("warmup"));
    let long =
        "/usr/lib/x86_64-linux-gnu/../../share/zoneinfo/right/America/Argentina/Buenos_Aires";
    let lost_before = kernel_stat("ringbuf_full");
    for round in 1..=ROUNDS {
        for (what, path) in [
            ("unwatched, 13-byte path", "/etc/hostname".to_string()),
            ("unwatched, 82-byte path", long.to_string()),
            ("watched, emitted       ", dir.path("secret")),
        ] {
            let (enter, exit) = burst(&path);
            eprintln!(
                "file_open_cost: round {round}: {what}: enter {enter:.0} ns + exit {exit:.0} ns = {:.0} ns per open",
                enter + exit
            );
            source.receive(Duration::from_millis(200));
        }
    }
    std::thread::sleep(Duration::from_millis(1100));
    let seen = source.stop();
    let _ = std::fs::write(STATS_SYSCTL, previous.trim());
    let lost = kernel_stat("ringbuf_full") - lost_before;
    eprintln!(
        "file_open_cost: {} events received, {lost} lost (ring full)",
        seen.len()
    );
}
