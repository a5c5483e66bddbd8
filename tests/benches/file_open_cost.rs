//! Cost of the `file_open` programs per open (a benchmark, not a timed test), two ways,
//! each for a process with a small descriptor table (the exit reads the opened file
//! through BTF pointers) and one whose table has grown past 64 slots (probing reads):
//! - **what an open pays**: the wall-clock time of an open+close with the source attached,
//!   minus the same without it (bpf_stats off; each the fastest of 31 batches of 20 000). This includes what bpf_stats
//!   cannot see: the tracepoint's own dispatch for each program attached.
//! - **per program** (`kernel.bpf_stats_enabled=1`): the programs' `run_time_ns / run_cnt`
//!   over bursts of unwatched opens and of watched ones. These figures include bpf_stats'
//!   own accounting (on a 2-vCPU VM, a program that returns at once measured 40-50 ns per
//!   run); other processes' opens during a burst are counted too.
//!
//! The opens run in child processes of this benchmark (`KOTEL_OPEN_LOOP`), forked by a
//! shell with the chosen table. Run as root:
//! `cargo bench -p kotel-integration-tests --bench file_open_cost`.

use std::fs::File;
use std::time::{Duration, Instant};

use kotel_common::file_open::names;

#[allow(dead_code)] // shared with the file_open root tests; the benchmark uses a part
#[path = "../tests/file_open_kernel/attached.rs"]
mod attached;

use attached::{Attached, WatchDir};
use kotel::sources::file_open::{FileOpenSourceConfig, KERNEL_EVENTS};
use kotel_integration_tests::fd_table::Table;
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
const OPENS: u32 = 20_000;
const ROUNDS: usize = 3;
/// Batches of the wall-clock measurement (of `OPENS` opens each).
const BATCHES: usize = 31;

/// The child's instructions: `<path> <batches>`; it prints the fastest batch's ns per
/// open+close (the least disturbed by the rest of the machine).
const CHILD_ENV: &str = "KOTEL_OPEN_LOOP";

/// In a child: opens the path `OPENS` times per batch and prints the fastest batch's ns
/// per open.
fn child(spec: &str) {
    let (path, batches) = spec.rsplit_once(' ').expect("<path> <batches>");
    let batches: usize = batches.parse().expect("batches");
    let mut per: Vec<f64> = (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..OPENS {
                let _ = File::open(path);
            }
            t.elapsed().as_nanos() as f64 / f64::from(OPENS)
        })
        .collect();
    per.sort_by(f64::total_cmp);
    println!("{}", per[0]);
}

/// The fastest batch's ns per open+close of `path` in a child with `table`, of `batches`.
fn opens_in_child(table: Table, path: &str, batches: usize) -> f64 {
    let mut command = table.command(&std::env::current_exe().expect("this benchmark"), &[]);
    command.env(CHILD_ENV, format!("{path} {batches}"));
    let out = command.output().expect("running the open loop");
    assert!(out.status.success(), "open loop: {:?}", out);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("ns per open")
}

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

/// ns per run of the openat enter program (0 runs where the exit reads the arguments
/// itself) and of the exit program over one burst of opens of `path` in a child.
fn burst(table: Table, path: &str) -> (f64, f64) {
    let (e0, x0) = (stats(names::PROG_ENTER_OPENAT), stats(names::PROG_EXIT));
    opens_in_child(table, path, 1);
    let (e1, x1) = (stats(names::PROG_ENTER_OPENAT), stats(names::PROG_EXIT));
    let per = |a: (u64, u64), b: (u64, u64)| (b.0 - a.0) as f64 / (b.1 - a.1).max(1) as f64;
    (per(e0, e1), per(x0, x1))
}

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    if !is_root() {
        return skip("file_open_cost", "bpf stats need root");
    }
    // Alone: another test's source would run its own copies of the programs meanwhile.
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let previous = std::fs::read_to_string(STATS_SYSCTL).unwrap_or_else(|_| "0".into());
    std::fs::write(STATS_SYSCTL, "0").expect("disabling bpf stats");
    let long =
        "/usr/lib/x86_64-linux-gnu/../../share/zoneinfo/right/America/Argentina/Buenos_Aires";
    let unwatched = [("13-byte path", "/etc/hostname"), ("82-byte path", long)];
    let mut without = Vec::new();
    for table in Table::BOTH {
        for (_, path) in unwatched {
            without.push(opens_in_child(table, path, BATCHES));
        }
    }
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
    let mut base = without.iter();
    for table in Table::BOTH {
        for (what, path) in unwatched {
            let (before, with) = (base.next().unwrap(), opens_in_child(table, path, BATCHES));
            eprintln!(
                "file_open_cost: wall: {table:?} table: unwatched, {what}: {before:.0} ns per \
                 open+close without the source, {with:.0} ns with it: {:+.0} ns",
                with - before
            );
        }
    }
    std::fs::write(STATS_SYSCTL, "1").expect("enabling bpf stats");
    let lost_before = kernel_stat("ringbuf_full");
    let watched = dir.path("secret");
    for round in 1..=ROUNDS {
        for table in Table::BOTH {
            for (what, path) in [
                ("unwatched, 13-byte path", "/etc/hostname"),
                ("unwatched, 82-byte path", long),
                ("watched, emitted       ", watched.as_str()),
            ] {
                let (enter, exit) = burst(table, path);
                eprintln!(
                    "file_open_cost: round {round}: {table:?} table: {what}: enter {enter:.0} \
                     ns + exit {exit:.0} ns = {:.0} ns per open",
                    enter + exit
                );
                source.receive(Duration::from_millis(200));
            }
        }
    }
    std::thread::sleep(Duration::from_millis(1100));
    let seen = source.stop();
    let _ = std::fs::write(STATS_SYSCTL, previous.trim());
    let lost = kernel_stat("ringbuf_full") - lost_before;
    eprintln!(
        "file_open_cost: {} events received, {lost} lost (ring full), {} matched through \
         BTF pointers",
        seen.len(),
        kernel_stat("typed_matches")
    );
}
