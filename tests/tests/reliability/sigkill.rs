//! SIGKILL: the kernel frees what the agent held (programs, maps, links, the cgroup
//! attachment); a new agent then works and, stopped with SIGTERM, leaves nothing either.

use std::path::Path;
use std::time::{Duration, Instant};

use kotel_integration_tests::local_server::free_port;

use super::agent::RunningAgent;
use super::bpf::{cgroup_programs, held_by, orphan_kotel_programs, Held};
use super::storm::Storm;
use crate::{is_root, skip, wait_for};
use kotel_integration_tests::agent_process::bpf_objects;

fn pipeline(port: u16, prometheus: u16) -> String {
    format!(
        "sources:\n  tcp: {{ batch_timeout: 50ms, filter: {{ include: {{ ports: [{port}] }} }} }}\n\
         processors:\n  aggregate: {{ interval: 1s, peer: address }}\n\
         exporters:\n  prometheus: {{ listen: \"127.0.0.1:{prometheus}\" }}\n\
         pipelines:\n  metrics: {{ sources: [tcp], processors: [aggregate], exporters: [prometheus] }}\n"
    )
}

/// Waits until the agent's endpoint shows `n` outbound connections to `port`.
fn counts(agent: &RunningAgent, port: u16, n: u64) {
    let port = port.to_string();
    let labels = [("server_port", port.as_str()), ("direction", "outbound")];
    wait_for(Duration::from_secs(10), "the connections counted", || {
        agent.scrape().sum("tcp_connection_opened_total", &labels) == n as f64
    });
}

/// What `held` names that is still loaded or attached to `cgroup`.
fn still_there(held: &Held, cgroup: &Path) -> Vec<String> {
    let mut left = Vec::new();
    for (kind, ids) in [
        ("prog", &held.programs),
        ("map", &held.maps),
        ("link", &held.links),
    ] {
        for (id, name) in bpf_objects(kind) {
            if ids.contains(&id) {
                left.push(format!("{kind} {id} {name}"));
            }
        }
    }
    let attached = cgroup_programs(&cgroup.to_string_lossy());
    left.extend(
        held.programs
            .intersection(&attached)
            .map(|id| format!("prog {id} attached to {}", cgroup.display())),
    );
    left
}

/// Waits until nothing of `held` is left (the kernel frees objects shortly after the last
/// reference goes); returns how long that took.
fn gone(held: &Held, cgroup: &Path) -> Duration {
    let started = Instant::now();
    loop {
        let left = still_there(held, cgroup);
        if left.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still there 10 s after the agent died: {left:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn after_sigkill_the_kernel_objects_are_freed_and_a_new_agent_starts_clean() {
    const TEST: &str = "reliability_sigkill_restart";
    if !is_root() {
        return skip(TEST, "loading kernel programs needs root");
    }
    let Some(cgroup) = kotel::node::cgroups::cgroup2_root(Path::new("")) else {
        return skip(TEST, "no cgroup2 mount");
    };
    let orphans_before = orphan_kotel_programs();
    let kotel_before = bpf_objects("prog")
        .iter()
        .filter(|(_, n)| n.starts_with("kotel_"))
        .count();
    let storm = Storm::bind();
    let dir = tempfile::tempdir().unwrap();

    let prometheus = free_port().unwrap();
    let mut first = RunningAgent::start(dir.path(), &pipeline(storm.port, prometheus), prometheus);
    let held = held_by(first.pid());
    let names: Vec<String> = bpf_objects("prog")
        .into_iter()
        .filter(|(id, _)| held.programs.contains(id))
        .map(|(_, name)| name)
        .collect();
    assert!(
        names.iter().any(|n| n == "kotel_tcp_state"),
        "the agent holds its programs: {names:?}"
    );
    // Whatever of it is attached to the cgroup2 root (a sock_ops program, in some
    // versions) must go with it too.
    let in_cgroup = held
        .programs
        .intersection(&cgroup_programs(&cgroup.to_string_lossy()))
        .count();
    storm.burst(10);
    counts(&first, storm.port, 10);
    first.sigkill();
    let freed_after = gone(&held, &cgroup);
    assert_eq!(
        orphan_kotel_programs(),
        orphans_before,
        "no kotel program left without an owner"
    );

    let prometheus = free_port().unwrap();
    let mut second = RunningAgent::start(dir.path(), &pipeline(storm.port, prometheus), prometheus);
    let held_again = held_by(second.pid());
    storm.burst(7);
    counts(&second, storm.port, 7);
    let (status, took) = second.sigterm(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    let freed_after_sigterm = gone(&held_again, &cgroup);
    let orphans_after = orphan_kotel_programs();
    let kotel_after = bpf_objects("prog")
        .iter()
        .filter(|(_, n)| n.starts_with("kotel_"))
        .count();
    eprintln!(
        "SIGKILL: {} programs ({in_cgroup} attached to the cgroup2 root), {} maps, {} links held, all freed {freed_after:?} after the kill; \
         restarted agent stopped in {took:?}, freed {freed_after_sigterm:?} later; kotel programs \
         loaded on the machine before {kotel_before}, after {kotel_after}; orphans before {}, after {}",
        held.programs.len(),
        held.maps.len(),
        held.links.len(),
        orphans_before.len(),
        orphans_after.len()
    );
    assert_eq!(
        orphans_after, orphans_before,
        "no kotel program left without an owner"
    );
}
