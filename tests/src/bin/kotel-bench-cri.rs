//! A CRI runtime with many running containers, for the scale benchmark
//! (`scripts/bench.sh scale`): serves the in-process fake ([`FakeCri`]) on a unix socket
//! with N containers, 5 per pod, until its stdin closes.
//!
//! With a CGROUP2_ROOT (the unified mount, e.g. `/sys/fs/cgroup/unified`) it first
//! creates each container's cgroup directory (`kubepods/besteffort/pod<uid>/<id>`, the
//! cgroupfs driver's layout the fake reports), so that `k8s_cri` resolves every container
//! to a cgroup id as it would on a node; on exit it removes exactly the directories it
//! created, deepest first.
//!
//! Usage: kotel-bench-cri SOCKET N [CGROUP2_ROOT]. Prints `ready N` once serving.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kotel_integration_tests::fake_cri::{FakeContainer, FakeCri};

/// Containers per pod.
const PER_POD: usize = 5;

/// Creates `dir` and the missing directories above it; returns those it created,
/// outermost first.
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.exists() {
        missing.push(at.to_path_buf());
        at = match at.parent() {
            Some(p) => p,
            None => break,
        };
    }
    for d in missing.into_iter().rev() {
        std::fs::create_dir(&d)?;
        created.push(d);
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: kotel-bench-cri SOCKET N [CGROUP2_ROOT]");
        std::process::exit(2);
    }
    let socket = PathBuf::from(&args[1]);
    let n: usize = args[2].parse().expect("N: a number");
    let cgroup_root = args.get(3).map(PathBuf::from);
    let containers: Vec<FakeContainer> = (0..n)
        .map(|i| {
            FakeContainer::new(
                &format!("c{}", i % PER_POD),
                &format!("pod-{}", i / PER_POD),
            )
        })
        .collect();
    let mut created = Vec::new();
    if let Some(root) = &cgroup_root {
        for c in &containers {
            let dir = root.join(c.cgroups_path.trim_start_matches('/'));
            if let Err(e) = create_dirs(&dir, &mut created) {
                eprintln!("kotel-bench-cri: creating {}: {e}", dir.display());
                break;
            }
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut cri = rt.block_on(async {
        let cri = FakeCri::start(&socket).expect("serving the fake CRI");
        cri.set_containers(containers);
        cri
    });
    println!("ready {n}");
    std::io::stdout().flush().expect("stdout");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    rt.block_on(async { cri.stop() });
    let _ = std::fs::remove_file(&socket);
    for dir in created.iter().rev() {
        if let Err(e) = std::fs::remove_dir(dir) {
            eprintln!("kotel-bench-cri: removing {}: {e}", dir.display());
        }
    }
}
