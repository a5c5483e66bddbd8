//! The fuzz targets (fuzz/, cargo fuzz) run for a bounded time each, through
//! `scripts/fuzz.sh`: each must finish without a crash, hang or leak, having executed at
//! least [`MIN_RUNS`] inputs. `KOTEL_FUZZ_SECONDS` sets the time per target (default
//! [`DEFAULT_SECONDS`]); `FUZZ_SECONDS=600 scripts/fuzz.sh` is the longer run on demand.
//!
//! Also checks that the committed seeds of the decode and replay targets are still the
//! records the kernel structs make (`KOTEL_WRITE_FUZZ_SEEDS=1` rewrites them).
//!
//! No root needed. The first run builds the fuzz crate with the nightly toolchain (several
//! minutes on a clean clone; scripts/fuzz.sh installs cargo-fuzz when missing).

#[path = "fuzz_bounded/seeds.rs"]
mod seeds;

use std::process::Command;
use std::sync::Mutex;

use kotel_integration_tests::repo_root;

/// Seconds each target runs when `KOTEL_FUZZ_SECONDS` is not set.
const DEFAULT_SECONDS: u32 = 12;
/// Fewest inputs a target must have executed: far below what any of them does in
/// [`DEFAULT_SECONDS`], far above what a broken harness (stuck, or exiting early) does.
const MIN_RUNS: u64 = 1_000;

/// One fuzz run at a time, even when this file's tests run in parallel: each run installs
/// what is missing and builds into the same `fuzz/target`.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `scripts/fuzz.sh <seconds> <target>` and checks its verdict and run count.
fn fuzz(target: &str) {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let seconds = std::env::var("KOTEL_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(DEFAULT_SECONDS);
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/fuzz.sh"))
        .arg(seconds.to_string())
        .arg(target)
        .output()
        .expect("running scripts/fuzz.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fuzz target {target} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let prefix = format!("fuzz: {target}: ");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no verdict for {target}:\n{stdout}\n{stderr}"));
    let runs: u64 = line
        .split_once(" runs")
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no run count in {line:?}"));
    println!("{prefix}{line}");
    assert!(
        runs >= MIN_RUNS,
        "{target} executed only {runs} inputs in {seconds} s: {line}"
    );
}

#[test]
fn fuzz_config_parse() {
    fuzz("config_parse");
}

#[test]
fn fuzz_exec_decode() {
    fuzz("exec_decode");
}

#[test]
fn fuzz_file_open_decode() {
    fuzz("file_open_decode");
}

#[test]
fn fuzz_l7_records() {
    fuzz("l7_records");
}

#[test]
fn fuzz_replay_line() {
    fuzz("replay_line");
}

#[test]
fn fuzz_tcp_decode() {
    fuzz("tcp_decode");
}

/// The committed seeds equal what the current kernel structs and event types make, so a
/// layout change cannot leave the decode targets starting from records of the old size.
#[test]
fn fuzz_seeds_are_current() {
    let corpus = repo_root().join("fuzz/corpus");
    let write = std::env::var_os("KOTEL_WRITE_FUZZ_SEEDS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (target, name, bytes) in seeds::all() {
        let path = corpus.join(target).join(&name);
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(format!("{target}/{name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "stale fuzz seeds {stale:?}: regenerate with KOTEL_WRITE_FUZZ_SEEDS=1 cargo test \
         -p kotel-integration-tests --test fuzz_bounded fuzz_seeds_are_current"
    );
}
