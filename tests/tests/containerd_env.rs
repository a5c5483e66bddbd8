//! The real-containerd neighbour itself, as root: a containerd of the test's own serves
//! CRI, a kubelet-like client runs a hostNetwork pod whose containers land in kubelet-style
//! cgroups and reach the host's loopback, the pod survives a containerd restart, and
//! nothing of it (shims, containers, pod cgroups) outlives the test.
//!
//! Without root, or without containerd and the test images (`scripts/setup-containerd.sh`),
//! the test prints why and returns (skip).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kotel_integration_tests::containerd::{ready_or_skip, Containerd, ScratchDir, BUSYBOX_IMAGE};
use kotel_integration_tests::kubelet::{ContainerSpec, Kubelet, PodSpec};
use tokio::io::AsyncBufReadExt;

const TEST: &str = "containerd_hostnetwork_pod";

#[tokio::test]
async fn a_hostnetwork_pod_runs_in_kubelet_cgroups_and_survives_a_restart() {
    if !ready_or_skip(TEST) {
        return;
    }
    let scratch = ScratchDir::new("ctrd").expect("a scratch directory");
    let socket = scratch.path().join("containerd.sock");
    let started = Instant::now();
    let mut containerd = Containerd::start(scratch.path(), &socket).expect("starting containerd");
    eprintln!("{TEST}: containerd ready in {:?}", started.elapsed());

    let mut kubelet = Kubelet::connect(&socket).await.expect("connecting to CRI");
    let version = kubelet.version().await.expect("Version");
    assert_eq!(version.runtime_name, "containerd", "{version:?}");
    assert_eq!(version.runtime_api_version, "v1", "{version:?}");

    let pod = PodSpec::host_network("envtest", "kotel-test");
    let started = Instant::now();
    let sandbox = kubelet.run_pod(&pod).await.expect("RunPodSandbox");
    let sleeper = ContainerSpec::new("sleeper", BUSYBOX_IMAGE, &["sleep", "30"]);
    let id = kubelet
        .start_container(&sandbox, &pod, &sleeper)
        .await
        .expect("starting the sleeper");
    eprintln!("{TEST}: pod + container started in {:?}", started.elapsed());

    let info = kubelet
        .container_status_info(&id)
        .await
        .expect("ContainerStatus");
    let pid = info["pid"].as_u64().expect("a pid in the verbose info");
    assert!(pid > 0, "{info}");
    let cgroups_path = info["runtimeSpec"]["linux"]["cgroupsPath"]
        .as_str()
        .unwrap_or("");
    assert_eq!(cgroups_path, format!("{}/{id}", pod.cgroup_parent()));
    assert!(cgroups_path.starts_with(&format!("/kubepods/besteffort/pod{}/", pod.uid)));
    let unified = unified_cgroup(pid as u32);
    assert!(unified.ends_with(&id), "0::{unified} should end with {id}");
    assert!(unified.contains(&pod.cgroup_parent()), "0::{unified}");

    // A hostNetwork pod shares the host's loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!("echo hello-from-pod | nc 127.0.0.1 {port}");
    let caller = ContainerSpec::new("caller", BUSYBOX_IMAGE, &["sh", "-c", &script]);
    let caller_id = kubelet
        .start_container(&sandbox, &pod, &caller)
        .await
        .expect("starting the caller");
    let (stream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .expect("the pod connects to the host's loopback within 10 s")
        .unwrap();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stream);
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .expect("a line from the pod")
        .unwrap();
    assert_eq!(line, "hello-from-pod\n");
    drop(reader);
    kubelet
        .stop_container(&caller_id, 0)
        .await
        .expect("StopContainer");

    match kubelet.container_events().await {
        Ok(_) => eprintln!("{TEST}: GetContainerEvents is implemented"),
        Err(status) => eprintln!(
            "{TEST}: GetContainerEvents: {:?}: {}",
            status.code(),
            status.message()
        ),
    }

    let started = Instant::now();
    containerd.restart().expect("restarting containerd");
    eprintln!("{TEST}: containerd restarted in {:?}", started.elapsed());
    let mut kubelet = Kubelet::connect(&socket)
        .await
        .expect("reconnecting to CRI");
    kubelet.version().await.expect("Version after the restart");
    let containers = kubelet.list_containers().await.expect("ListContainers");
    let sleeper_listed = containers
        .iter()
        .find(|c| c.id == id)
        .expect("the sleeper is listed");
    assert_eq!(
        sleeper_listed.state, 1,
        "the sleeper still runs: {sleeper_listed:?}"
    );
    assert_eq!(kubelet.container_pid(&id).await.unwrap() as u64, pid);
    assert!(Path::new(&format!("/proc/{pid}")).exists());

    // Teardown through Drop: pods removed, shims gone, pod cgroups gone, then the directory.
    let pod_cgroup = format!("/sys/fs/cgroup/unified{}", pod.cgroup_parent());
    assert!(Path::new(&pod_cgroup).is_dir(), "{pod_cgroup}");
    drop(kubelet);
    drop(containerd);
    let leftovers = Command::new("pgrep")
        .args(["-f", &socket.to_string_lossy()])
        .output()
        .expect("pgrep");
    let leftovers = String::from_utf8_lossy(&leftovers.stdout);
    assert!(
        leftovers.trim().is_empty(),
        "processes naming the socket: {leftovers}"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the sleeper outlived its pod"
    );
    assert!(
        !Path::new(&pod_cgroup).exists(),
        "{pod_cgroup} outlived its pod"
    );
    assert!(
        scratch.mounts_below().is_empty(),
        "{:?}",
        scratch.mounts_below()
    );
}

/// The cleanup contract holds when a test leaves containerd stopped with a pod running:
/// dropping it starts containerd again to remove the pod, so no shim or container is left.
#[tokio::test]
async fn dropping_a_stopped_containerd_still_removes_its_pods() {
    const TEST: &str = "containerd_drop_when_stopped";
    if !ready_or_skip(TEST) {
        return;
    }
    let scratch = ScratchDir::new("ctrd").expect("a scratch directory");
    let socket = scratch.path().join("containerd.sock");
    let mut containerd = Containerd::start(scratch.path(), &socket).expect("starting containerd");
    let mut kubelet = Kubelet::connect(&socket).await.expect("connecting to CRI");
    let pod = PodSpec::host_network("left-running", "kotel-test");
    let sandbox = kubelet.run_pod(&pod).await.expect("RunPodSandbox");
    let sleeper = ContainerSpec::new("sleeper", BUSYBOX_IMAGE, &["sleep", "30"]);
    let id = kubelet
        .start_container(&sandbox, &pod, &sleeper)
        .await
        .expect("starting it");
    let pid = kubelet.container_pid(&id).await.expect("its pid");
    drop(kubelet);
    containerd.stop().expect("stopping containerd");
    assert!(!socket.exists(), "the socket goes with containerd");
    assert!(
        !containerd.shim_pids().is_empty(),
        "the pod's shim outlives containerd"
    );
    drop(containerd);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the container outlived the drop"
    );
    let pod_cgroup = format!("/sys/fs/cgroup/unified{}", pod.cgroup_parent());
    assert!(
        !Path::new(&pod_cgroup).exists(),
        "{pod_cgroup} outlived the drop"
    );
    assert!(
        scratch.mounts_below().is_empty(),
        "{:?}",
        scratch.mounts_below()
    );
}

/// The process's cgroup2 path (the `0::` line of /proc/PID/cgroup).
fn unified_cgroup(pid: u32) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("reading its cgroups");
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .unwrap_or_else(|| panic!("no cgroup2 line in {text}"))
        .to_string()
}
