//! The `k8s_cri` processor against a real containerd, as root: the agent's real tcp
//! source and processor run in-process; the test plays kubelet through CRI.
//!
//! - Two pods connect to a host listener: every event of pod A carries A's pod,
//!   namespace, container, image and allow-listed label, B's carry B's, the test's own
//!   host process carries host attributes, and no event is attributed wrongly.
//! - The agent starts before containerd: it attributes host events, picks the runtime up
//!   when the socket appears, and after a containerd restart attribution resumes, for old
//!   and new pods.
//! - A container that lives well under a second still gets its connect attributed.
//!
//! Without root, or without containerd and the images (`scripts/setup-containerd.sh`),
//! each test prints why and returns.

mod k8s_cri_containerd {
    pub mod node;
}

use std::net::TcpStream;
use std::time::{Duration, Instant};

use k8s_cri_containerd::node::{
    assert_attributed_to, assert_host, print_cri_counters, tcp, Node, RunningPod,
};
use kotel::event::{keys, Event, TcpEventKind};
use kotel_integration_tests::agent::Agent;
use kotel_integration_tests::containerd::ready_or_skip;

/// A container script that connects to the host listener every 300 ms for ~`n` times,
/// then stays up.
fn connect_loop(n: u32) -> String {
    format!("i=0; while [ $i -lt {n} ]; do echo hi | nc 127.0.0.1 $PORT; i=$((i+1)); sleep 0.3; done; sleep 60")
}

/// Connects from the test process itself (a host process) to the listener.
fn host_connect(port: u16) -> u16 {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("host connect");
    stream.local_addr().unwrap().port()
}

/// The first captured connect of `pod`'s container to the listener.
fn wait_connect_of(agent: &Agent, node: &Node, pod: &RunningPod, timeout: Duration) -> Event {
    let cgroup = pod.cgroup_id.expect("the pod's cgroup id");
    agent
        .wait_for(timeout, |e| {
            tcp(e).is_some_and(|t| {
                t.kind == TcpEventKind::Connect
                    && t.remote_port == node.port
                    && t.cgroup_id == cgroup
            })
        })
        .unwrap_or_else(|| panic!("no connect from pod {} within {timeout:?}", pod.spec.name))
}

#[test]
fn events_of_two_pods_and_the_host_are_each_attributed_to_their_own() {
    const TEST: &str = "k8s_cri_two_pods_and_host";
    if !ready_or_skip(TEST) {
        return;
    }
    let mut node = Node::new("k8scri-pods");
    node.start_containerd();
    let agent = Agent::start(&node.pipeline(""));
    let host_port = {
        // The first host connect proves the tcp source is attached.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let port = host_connect(node.port);
            let seen = agent.wait_for(Duration::from_millis(500), |e| {
                tcp(e).is_some_and(|t| t.local_port == port && t.kind == TcpEventKind::Connect)
            });
            if let Some(event) = seen {
                assert_host(&event);
                break port;
            }
            assert!(
                Instant::now() < deadline,
                "the tcp source never reported a host connect"
            );
        }
    };

    let a = node.run_pod("shop-a", "team-a", &connect_loop(8));
    let b = node.run_pod("shop-b", "team-b", &connect_loop(8));
    let (cg_a, cg_b) = (a.cgroup_id.unwrap(), b.cgroup_id.unwrap());
    assert_ne!(cg_a, cg_b);
    wait_connect_of(&agent, &node, &a, Duration::from_secs(15));
    wait_connect_of(&agent, &node, &b, Duration::from_secs(15));
    // Let both loops run on (8 connects over ~2.4 s each) and the host connect again.
    std::thread::sleep(Duration::from_secs(3));
    host_connect(node.port);
    std::thread::sleep(Duration::from_millis(500));

    let events = agent.events();
    print_cri_counters(TEST);
    let (mut from_a, mut from_b, mut from_host) = (0, 0, 0);
    for event in &events {
        let Some(origin) = event.origin() else {
            continue;
        };
        if origin.cgroup_id == cg_a {
            assert_attributed_to(event, &a);
            from_a += 1;
        } else if origin.cgroup_id == cg_b {
            assert_attributed_to(event, &b);
            from_b += 1;
        } else {
            // Nothing else on this node is a container: everything else is host.
            assert_host(event);
            from_host += 1;
        }
    }
    let connects = |cg: u64| {
        events
            .iter()
            .filter_map(tcp)
            .filter(|t| t.cgroup_id == cg && t.kind == TcpEventKind::Connect)
            .count()
    };
    eprintln!("{TEST}: {from_a} events from A, {from_b} from B, {from_host} from the host (port {host_port})");
    assert!(connects(cg_a) >= 5, "pod A's connects: {}", connects(cg_a));
    assert!(connects(cg_b) >= 5, "pod B's connects: {}", connects(cg_b));
    let host_events = events
        .iter()
        .filter_map(tcp)
        .filter(|t| t.local_port == host_port)
        .count();
    assert!(host_events >= 1);
}

#[test]
fn the_agent_picks_up_a_runtime_that_starts_late_and_resumes_after_a_restart() {
    const TEST: &str = "k8s_cri_late_runtime_and_restart";
    if !ready_or_skip(TEST) {
        return;
    }
    let mut node = Node::new("k8scri-late");
    // A short call timeout and resync keep the test quick; backoff is the default.
    let agent = Agent::start(&node.pipeline(", resync_interval: 2s"));
    let deadline = Instant::now() + Duration::from_secs(20);
    let host = loop {
        let port = host_connect(node.port);
        if let Some(e) = agent.wait_for(Duration::from_millis(500), |e| {
            tcp(e).is_some_and(|t| t.local_port == port)
        }) {
            break e;
        }
        assert!(Instant::now() < deadline, "no host event without a runtime");
    };
    assert_host(&host);

    node.start_containerd();
    let started = Instant::now();
    let c = node.run_pod("late-c", "team-c", &connect_loop(100));
    let first = wait_connect_of(&agent, &node, &c, Duration::from_secs(45));
    let attributed = agent
        .wait_for(Duration::from_secs(45), |e| {
            e.origin().is_some_and(|o| Some(o.cgroup_id) == c.cgroup_id)
                && e.workload()
                    .is_some_and(|w| w.get(keys::POD_NAME) == Some("late-c"))
        })
        .expect("pod C attributed once the runtime appeared");
    assert_attributed_to(&attributed, &c);
    eprintln!(
        "{TEST}: runtime appeared; first pod-C connect after {:?}, attributed by {:?}",
        Duration::from_nanos(0).max(started.elapsed()),
        tcp(&first).map(|t| t.kind)
    );

    node.containerd
        .as_mut()
        .unwrap()
        .restart()
        .expect("containerd restart");
    let restarted = Instant::now();
    let d = node.run_pod("after-d", "team-d", &connect_loop(20));
    let event = wait_connect_of(&agent, &node, &d, Duration::from_secs(45));
    assert_attributed_to(&event, &d);
    // C's container kept running through the restart and is still attributed.
    let before = agent.events().len();
    std::thread::sleep(Duration::from_secs(1));
    let later_c: Vec<Event> = agent.events()[before..]
        .iter()
        .filter(|e| e.origin().is_some_and(|o| Some(o.cgroup_id) == c.cgroup_id))
        .cloned()
        .collect();
    assert!(!later_c.is_empty(), "pod C kept connecting");
    later_c.iter().for_each(|e| assert_attributed_to(e, &c));
    eprintln!(
        "{TEST}: after restart, pod D attributed within {:?}",
        restarted.elapsed()
    );
    let connects = kotel::telemetry::snapshot().counter_sum(
        kotel::telemetry::names::K8S_CRI_CONNECTS,
        &[("outcome", "ok")],
    );
    assert!(connects >= 2.0, "connected {connects} times");
}

#[test]
fn a_container_that_lives_under_a_second_gets_its_connect_attributed() {
    const TEST: &str = "k8s_cri_short_lived_container";
    if !ready_or_skip(TEST) {
        return;
    }
    let mut node = Node::new("k8scri-short");
    node.start_containerd();
    let agent = Agent::start(&node.pipeline(""));
    // Wait for the source: a host connect must come through first.
    let deadline = Instant::now() + Duration::from_secs(20);
    while agent
        .wait_for(Duration::from_millis(500), |e| {
            let port = node.port;
            tcp(e).is_some_and(|t| t.remote_port == port)
        })
        .is_none()
    {
        host_connect(node.port);
        assert!(Instant::now() < deadline, "tcp source not attached");
    }

    let started = Instant::now();
    let started_wall = std::time::SystemTime::now();
    let pod = node.run_pod("blink", "team-e", "echo hi | nc 127.0.0.1 $PORT");
    let cgroup_dir = format!(
        "/sys/fs/cgroup/unified{}/{}",
        pod.spec.cgroup_parent(),
        pod.container
    );
    let event = agent
        .wait_for(Duration::from_secs(10), |e| {
            tcp(e).is_some_and(|t| {
                t.kind == TcpEventKind::Connect && t.remote_port == node.port && &*t.comm == "nc"
            })
        })
        .expect("the short-lived container's connect");
    let captured = started.elapsed();
    print_cri_counters(TEST);
    assert_attributed_to(&event, &pod);
    // It really was short-lived: its cgroup is gone within a second of the kubelet's
    // first call (RunPodSandbox included).
    while std::path::Path::new(&cgroup_dir).exists() && started.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let lifetime = started.elapsed();
    let connect_at = tcp(&event)
        .map(|t| Duration::from_nanos(t.time_unix_nano))
        .unwrap_or_default()
        .saturating_sub(started_wall.duration_since(std::time::UNIX_EPOCH).unwrap());
    eprintln!(
        "{TEST}: from the kubelet's first call: connect in the kernel at {connect_at:?}, \
         attributed event at the exporter by {captured:?}, container gone by {lifetime:?}"
    );
    assert!(
        lifetime < Duration::from_secs(1),
        "the container lived {lifetime:?}"
    );
}

#[test]
fn doctor_names_the_runtime_that_auto_discovery_finds() {
    const TEST: &str = "k8s_cri_doctor";
    if !ready_or_skip(TEST) {
        return;
    }
    let mut node = Node::new("k8scri-doctor");
    let config = node.scratch.path().join("pipeline.yaml");
    std::fs::write(&config, node.pipeline("")).unwrap();
    let doctor = || {
        let out = std::process::Command::new(kotel_integration_tests::kotel_binary())
            .args(["doctor", "--config"])
            .arg(&config)
            .output()
            .expect("kotel doctor");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = doctor();
    assert!(
        before.contains("warn    k8s_cri: container runtime  no runtime socket; probed"),
        "{before}"
    );
    node.start_containerd();
    let after = doctor();
    let expected = "containerd 1.6"; // the Debian package's runtime
    let line = after
        .lines()
        .find(|l| l.contains("k8s_cri: container runtime"))
        .unwrap_or_default();
    assert!(
        line.starts_with("ok")
            && line.contains(expected)
            && line.contains("(CRI v1)")
            && line.contains(&node.socket().display().to_string()),
        "{after}"
    );
}
