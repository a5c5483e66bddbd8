//! Security: what `kotel run` exposes on the network. With the shipped pipeline.yaml and
//! nothing configured, every socket the agent listens on (TCP or UDP, IPv4 or IPv6) is
//! bound to loopback; an address is only opened wider when the pipeline says so. The
//! sockets are read from the kernel (/proc/PID/fd and /proc/PID/net/{tcp,tcp6,udp,udp6}),
//! not from the agent's log, so a new HTTP surface that binds 0.0.0.0 fails this test.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Child;
use std::time::Duration;

use kotel_integration_tests::agent_process::{
    agent_command, sigterm_and_wait, start_attached, try_scrape, Lines,
};
use kotel_integration_tests::{is_root, repo_root, skip, KillOnDrop};

/// The shipped pipeline's Prometheus port (`KOTEL_PROMETHEUS_LISTEN` unset).
const DEFAULT_PORT: u16 = 9464;

/// One listening socket of a process: protocol table and local address.
#[derive(Debug)]
struct Listening {
    table: &'static str,
    local: SocketAddr,
}

/// Inodes of the sockets process `pid` holds open.
fn socket_inodes(pid: u32) -> HashSet<u64> {
    let dir = format!("/proc/{pid}/fd");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let text = target.to_string_lossy().into_owned();
            text.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// `0100007F:24F8` (little-endian words, as /proc/net/tcp prints them) as an address.
fn parse_proc_addr(text: &str) -> SocketAddr {
    let (ip, port) = text.split_once(':').expect("ADDR:PORT");
    let port = u16::from_str_radix(port, 16).expect("hex port");
    let words: Vec<u32> = (0..ip.len() / 8)
        .map(|i| u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).expect("hex address"))
        .collect();
    let ip = match words.as_slice() {
        [v4] => IpAddr::V4(Ipv4Addr::from(v4.swap_bytes())),
        v6 => {
            let mut bytes = [0u8; 16];
            for (chunk, word) in bytes.chunks_mut(4).zip(v6) {
                chunk.copy_from_slice(&word.to_le_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
    };
    SocketAddr::new(ip, port)
}

/// Every TCP socket in LISTEN and every unconnected UDP socket that process `pid` owns.
fn listening_sockets(pid: u32) -> Vec<Listening> {
    let inodes = socket_inodes(pid);
    let mut found = Vec::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let path = format!("/proc/{pid}/net/{table}");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // no IPv6 on this kernel
        };
        for row in text.lines().skip(1) {
            let cols: Vec<&str> = row.split_whitespace().collect();
            let (local, remote, state, inode) = (cols[1], cols[2], cols[3], cols[9]);
            // TCP in LISTEN; UDP bound but not connected (a connected UDP socket, e.g. a
            // DNS query, takes datagrams from its one peer only).
            let listening = if table.starts_with("tcp") {
                state == "0A"
            } else {
                parse_proc_addr(remote).port() == 0
            };
            if listening && inodes.contains(&inode.parse().unwrap_or(0)) {
                found.push(Listening {
                    table,
                    local: parse_proc_addr(local),
                });
            }
        }
    }
    found
}

/// `kotel run` on the shipped pipeline with `env`, once its Prometheus endpoint on `port`
/// answers.
fn start(env: &[(&str, String)], port: u16) -> (KillOnDrop, Lines) {
    let mut command = agent_command(&repo_root().join("pipeline.yaml"));
    command
        .env_remove("KOTEL_PROMETHEUS_LISTEN")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    for (name, value) in env {
        command.env(name, value);
    }
    let (child, mut log) = start_attached(command);
    for _ in 0..100 {
        if try_scrape(port).is_some() {
            return (child, log);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing answers on 127.0.0.1:{port}:\n{}", log.drain());
}

fn stop(child: &mut Child) {
    let status = sigterm_and_wait(child, Duration::from_secs(15));
    assert!(status.success(), "kotel exited with {status}");
}

#[test]
fn every_socket_of_the_default_pipeline_listens_on_loopback_only() {
    if !is_root() {
        return skip("listen_surface", "loading kernel programs needs root");
    }
    if std::net::TcpListener::bind(("127.0.0.1", DEFAULT_PORT)).is_err() {
        panic!(
            "port {DEFAULT_PORT} is taken on this machine: stop whatever holds it (another kotel?) \
             so the shipped default can be checked"
        );
    }
    let (mut child, _log) = start(&[], DEFAULT_PORT);
    let sockets = listening_sockets(child.id());
    stop(&mut child);
    eprintln!("listen_surface: default pipeline listens on {sockets:?}");
    assert!(
        sockets
            .iter()
            .any(|s| s.table == "tcp" && s.local.port() == DEFAULT_PORT),
        "the Prometheus endpoint is not among the sockets found: {sockets:?}"
    );
    let exposed: Vec<&Listening> = sockets
        .iter()
        .filter(|s| !s.local.ip().is_loopback())
        .collect();
    assert!(
        exposed.is_empty(),
        "listening beyond loopback without being configured to: {exposed:?}"
    );
}

#[test]
fn a_configured_wildcard_address_is_what_the_agent_binds() {
    if !is_root() {
        return skip("listen_surface", "loading kernel programs needs root");
    }
    let port = kotel_integration_tests::local_server::free_port().unwrap();
    let (mut child, _log) = start(
        &[("KOTEL_PROMETHEUS_LISTEN", format!("0.0.0.0:{port}"))],
        port,
    );
    let sockets = listening_sockets(child.id());
    stop(&mut child);
    let prometheus: Vec<&Listening> = sockets.iter().filter(|s| s.local.port() == port).collect();
    assert!(
        matches!(prometheus.as_slice(), [s] if s.local.ip() == IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        "KOTEL_PROMETHEUS_LISTEN=0.0.0.0:{port} gives {sockets:?}"
    );
}

#[test]
fn proc_net_addresses_parse_in_both_families() {
    assert_eq!(
        parse_proc_addr("0100007F:24F8"),
        "127.0.0.1:9464".parse().unwrap()
    );
    assert_eq!(
        parse_proc_addr("00000000000000000000000001000000:0050"),
        "[::1]:80".parse().unwrap()
    );
    assert_eq!(
        parse_proc_addr("00000000:1F90"),
        "0.0.0.0:8080".parse().unwrap()
    );
}
