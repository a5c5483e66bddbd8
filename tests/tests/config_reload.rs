//! `kotel run` on a pipeline file mounted the way Kubernetes mounts a ConfigMap (a
//! `..data` symlink swapped on update), as root with the real tcp source:
//!
//! - a valid change restarts only what changed: a new Prometheus port restarts the
//!   exporter alone, while the tcp source stays attached (its programs loaded once) and
//!   the `aggregate` series keep counting; connections made at a steady rate across the
//!   reload are all counted. A `runtime` change restarts everything, and the same
//!   workload measures what that costs (the blind spot and the reset counters);
//! - an invalid change is refused with each error and its path while the running
//!   pipeline stays; SIGHUP reads the file at once; SIGTERM still ends it cleanly.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use kotel_integration_tests::agent_process::{
    agent_command, bpf_programs_named, bpf_programs_settled, scrape, sigterm_and_wait,
    start_attached, try_scrape,
};
use kotel_integration_tests::local_server::free_port;
use kotel_integration_tests::{is_root, skip};

/// A pipeline counting TCP connections (per server port) into a Prometheus endpoint on
/// `port`, with `runtime` settings.
fn pipeline(port: u16, runtime: &str) -> String {
    format!(
        "sources: {{ tcp: {{ batch_timeout: 50ms }} }}\n\
         processors: {{ aggregate: {{ interval: 1s, peer: address }} }}\n\
         exporters: {{ prometheus: {{ listen: 127.0.0.1:{port} }} }}\n\
         pipelines: {{ metrics: {{ sources: [tcp], processors: [aggregate], exporters: [prometheus] }} }}\n\
         runtime: {{ {runtime} }}\n"
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
    publish(
        dir.path(),
        1,
        &pipeline(first_port, "reload_interval: 200ms"),
    );
    let (mut child, mut log) = start_attached(agent_command(&dir.path().join("pipeline.yaml")));
    let programs_running = bpf_programs_named("kotel_");
    assert!(
        programs_running > programs_before,
        "kotel's programs are loaded"
    );
    assert!(scrape(first_port).contains("kotel_component_events_received_total"));

    // A valid change: the pipelines move to the second port within a few checks.
    publish(dir.path(), 2, &pipeline(second_port, "reload_interval: 0s"));
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
        l.contains("sources=0 pipelines=0 exporters=1")
    })
    .unwrap_or_else(|l| panic!("not applied as an exporter restart alone:\n{l}"));
    assert_eq!(
        log.seen.matches("tcp source attached").count(),
        1,
        "the unchanged tcp source stayed attached:\n{}",
        log.seen
    );
    eprintln!("config reload: new endpoint serving {applied_after:?} after the swap");
    assert!(
        try_scrape(first_port).is_none(),
        "the old endpoint is closed"
    );
    assert_eq!(
        bpf_programs_named("kotel_"),
        programs_running,
        "the same kernel programs, loaded once"
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
        &pipeline(first_port, "reload_interval: 0s")
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

/// Connections to one listener at a steady rate, from a thread, until stopped.
struct SteadyConnections {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl SteadyConnections {
    /// One connection every `every` to a new listener.
    fn start(every: Duration) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut made = 0;
            while !halt.load(Ordering::Relaxed) {
                let _client = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let _ = listener.accept().unwrap();
                made += 1;
                std::thread::sleep(every);
            }
            made
        });
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and returns how many connections were made.
    fn stop(&mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// `tcp_connection_opened_total` of outbound connections to `server_port` in `scrape`.
fn opened_to(scrape: &str, server_port: u16) -> f64 {
    let port = format!("server_port=\"{server_port}\"");
    scrape
        .lines()
        .filter(|l| l.starts_with("tcp_connection_opened_total{"))
        .filter(|l| l.contains(&port) && l.contains("direction=\"outbound\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until `port` serves a scrape counting `want` connections to `server_port`;
/// returns the last count seen.
fn counted(port: u16, server_port: u16, want: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let seen = try_scrape(port).map_or(0.0, |s| opened_to(&s, server_port));
        if seen >= want || Instant::now() > deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Seconds into the day of the `nth` log line containing `what` (the log's RFC 3339
/// timestamps).
fn logged_at(log: &str, what: &str, nth: usize) -> f64 {
    let line = log
        .lines()
        .filter(|l| l.contains(what))
        .nth(nth - 1)
        .unwrap_or_else(|| panic!("no line {nth} with {what:?}:\n{log}"));
    let time = line
        .split('T')
        .nth(1)
        .and_then(|t| t.split('Z').next())
        .unwrap_or_default();
    let parts: Vec<f64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    assert_eq!(parts.len(), 3, "no timestamp in {line:?}");
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

/// Applies `text` as `version` while connections are made every 5 ms; returns
/// `(made, counted)` once `port` serves the new configuration.
fn reload_under_load(dir: &Path, version: u32, text: &str, port: u16) -> (u64, f64) {
    let mut load = SteadyConnections::start(Duration::from_millis(5));
    std::thread::sleep(Duration::from_millis(1500));
    publish(dir, version, text);
    std::thread::sleep(Duration::from_millis(1500));
    let made = load.stop();
    (made, counted(port, load.port, made as f64))
}

#[test]
fn a_reload_restarts_only_what_changed_and_keeps_counting_across_it() {
    const TEST: &str = "a_reload_restarts_only_what_changed_and_keeps_counting_across_it";
    if !is_root() {
        return skip(TEST, "needs root to load eBPF programs");
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    publish(dir.path(), 1, &pipeline(port, "reload_interval: 100ms"));
    let (mut child, mut log) = start_attached(agent_command(&dir.path().join("pipeline.yaml")));

    // The Prometheus exporter's own settings change, its address does not: it restarts
    // alone and its successor takes the same port once it has let go of it.
    let relabelled = pipeline(port, "reload_interval: 100ms").replace(
        &format!("listen: 127.0.0.1:{port} }}"),
        &format!("listen: 127.0.0.1:{port}, resource: {{ cluster: test }} }}"),
    );
    assert_ne!(relabelled, pipeline(port, "reload_interval: 100ms"));
    let (made, seen) = reload_under_load(dir.path(), 2, &relabelled, port);
    log.wait_until(Duration::from_secs(5), |l| {
        l.contains("sources=0 pipelines=0 exporters=1")
    })
    .unwrap_or_else(|l| panic!("not applied as an exporter restart:\n{l}"));
    assert!(
        scrape(port).contains("cluster=\"test\""),
        "the successor serves on the same port"
    );
    eprintln!("{TEST}: exporter replaced on its port: {made} connections made across the reload, {seen} counted");
    assert_eq!(
        seen, made as f64,
        "every connection across the reload is counted"
    );

    // A debug exporter joins the pipeline: the tcp source, the pipeline (re-routed in
    // place) and the Prometheus endpoint keep running.
    let with_debug = relabelled
        .replace(
            "exporters: { prometheus: { listen:",
            "exporters: { debug: { verbosity: basic }, prometheus: { listen:",
        )
        .replace("exporters: [prometheus]", "exporters: [prometheus, debug]");
    assert_ne!(with_debug, relabelled);
    let (made, seen) = reload_under_load(dir.path(), 3, &with_debug, port);
    log.wait_until(Duration::from_secs(5), |l| {
        l.matches("sources=0 pipelines=0 exporters=1").count() == 2
    })
    .unwrap_or_else(|l| panic!("not applied:\n{l}"));
    assert_eq!(
        log.seen.matches("tcp source attached").count(),
        1,
        "{}",
        log.seen
    );
    eprintln!("{TEST}: exporter added: {made} connections made across the reload, {seen} counted");
    assert_eq!(
        seen, made as f64,
        "every connection across the reload is counted"
    );

    // A runtime change restarts everything: what that costs, measured the same way.
    let restarting = with_debug.replace(
        "reload_interval: 100ms",
        "reload_interval: 100ms, channel_capacity: 512",
    );
    let (made, seen) = reload_under_load(dir.path(), 4, &restarting, port);
    log.wait_until(Duration::from_secs(5), |l| {
        l.matches("tcp source attached").count() == 2
    })
    .unwrap_or_else(|l| panic!("the runtime change did not restart the source:\n{l}"));
    let blind = logged_at(&log.seen, "tcp source attached", 2)
        - logged_at(&log.seen, "restarting every component", 1);
    eprintln!(
        "{TEST}: full restart: {made} connections made across the reload, {seen} counted after it \
         (the counters restart from zero); the tcp source was away {:.0} ms",
        blind * 1000.0
    );
    assert!(blind > 0.0);
    assert!(seen < made as f64, "a full restart resets the series");

    let status = sigterm_and_wait(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
}
