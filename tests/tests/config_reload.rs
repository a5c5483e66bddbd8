//! `kotel run` on a pipeline file mounted the way Kubernetes mounts a ConfigMap (a
//! `..data` symlink swapped on update), as root with the real tcp source: a valid change
//! replaces the running pipelines in the same process (new Prometheus port, kernel events
//! still counted, no kernel programs left behind), an invalid one is refused with each
//! error and its path while the running pipeline stays, SIGHUP reads the file at once,
//! and SIGTERM still ends it cleanly.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use kotel_integration_tests::agent_process::{
    agent_command, bpf_programs_named, bpf_programs_settled, scrape, sigterm_and_wait,
    start_attached, try_scrape,
};
use kotel_integration_tests::local_server::free_port;
use kotel_integration_tests::{is_root, skip};

/// A pipeline counting TCP connections into a Prometheus endpoint on `port`.
fn pipeline(port: u16, reload_interval: &str) -> String {
    format!(
        "sources: {{ tcp: {{ batch_timeout: 50ms }} }}\n\
         processors: {{ aggregate: {{ interval: 1s }} }}\n\
         exporters: {{ prometheus: {{ listen: 127.0.0.1:{port} }} }}\n\
         pipelines: {{ metrics: {{ sources: [tcp], processors: [aggregate], exporters: [prometheus] }} }}\n\
         runtime: {{ reload_interval: {reload_interval} }}\n"
    )
}

/// Publishes `text` as version `version` of the mounted ConfigMap in `dir`, the way
/// kubelet does: a new directory, then a `..data` symlink renamed over the old one.
fn publish(dir: &Path, version: u32, text: &str) {
    let data = dir.join(format!("..{version}"));
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("pipeline.yaml"), text).unwrap();
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    if !dir.join("pipeline.yaml").exists() {
        std::os::unix::fs::symlink("..data/pipeline.yaml", dir.join("pipeline.yaml")).unwrap();
    }
}

fn connect_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let _ = listener.accept().unwrap();
}

/// The value of the first sample line of `scrape` that starts with `series`.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_changed_configmap_replaces_the_pipelines_and_an_invalid_one_is_refused() {
    if !is_root() {
        return skip(
            "a_changed_configmap_replaces_the_pipelines_and_an_invalid_one_is_refused",
            "needs root to load eBPF programs",
        );
    }
    let programs_before = bpf_programs_named("kotel_");
    let dir = tempfile::tempdir().unwrap();
    let (first_port, second_port) = (free_port().unwrap(), free_port().unwrap());
    publish(dir.path(), 1, &pipeline(first_port, "200ms"));
    let (mut child, mut log) = start_attached(agent_command(&dir.path().join("pipeline.yaml")));
    let programs_running = bpf_programs_named("kotel_");
    assert!(
        programs_running > programs_before,
        "kotel's programs are loaded"
    );
    assert!(scrape(first_port).contains("kotel_component_events_received_total"));

    // A valid change: the pipelines move to the second port within a few checks.
    publish(dir.path(), 2, &pipeline(second_port, "0s"));
    let swapped = Instant::now();
    while try_scrape(second_port).is_none() {
        assert!(
            swapped.elapsed() < Duration::from_secs(10),
            "the changed pipeline file was not applied within 10 s:\n{}",
            log.seen
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let applied_after = swapped.elapsed();
    log.wait_until(Duration::from_secs(10), |l| {
        l.matches("tcp source attached").count() == 2
    })
    .unwrap_or_else(|l| panic!("the new tcp source did not attach:\n{l}"));
    eprintln!("config reload: new endpoint serving {applied_after:?} after the swap");
    assert!(
        try_scrape(first_port).is_none(),
        "the old endpoint is closed"
    );
    assert_eq!(
        bpf_programs_named("kotel_"),
        programs_running,
        "the old pipeline's kernel programs are gone, the new ones loaded once"
    );
    // The new pipeline sees the kernel's events.
    let metrics = loop {
        connect_once();
        let metrics = scrape(second_port);
        if sample(&metrics, "tcp_connection_opened_total").is_some() {
            break metrics;
        }
        assert!(
            swapped.elapsed() < Duration::from_secs(20),
            "no connection counted:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        sample(&metrics, "kotel_config_reloads_total{result=\"applied\"}"),
        Some(1.0),
        "{metrics}"
    );

    // An invalid change, read on SIGHUP (the new pipeline checks only then): refused with
    // every error and its path; the running pipeline stays.
    publish(
        dir.path(),
        3,
        &pipeline(first_port, "0s")
            .replace("batch_timeout: 50ms", "batch_timeout: 50ms, colour: red"),
    );
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    log.wait_until(Duration::from_secs(10), |l| {
        l.contains("the changed pipeline file is invalid; the running pipelines stay")
    })
    .unwrap_or_else(|l| panic!("the invalid file was not refused:\n{l}"));
    assert!(
        log.seen.contains("sources::tcp: unknown field `colour`"),
        "{}",
        log.seen
    );
    let metrics = scrape(second_port);
    assert_eq!(
        sample(&metrics, "kotel_config_reloads_total{result=\"invalid\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert!(try_scrape(first_port).is_none());
    assert_eq!(bpf_programs_named("kotel_"), programs_running);

    // SIGTERM after all this is still a clean, prompt stop that unloads everything.
    let status = sigterm_and_wait(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(log.drain().contains("shutdown complete"));
    assert_eq!(
        bpf_programs_settled("kotel_", programs_before, Duration::from_secs(2)),
        programs_before,
        "nothing left loaded"
    );
}
