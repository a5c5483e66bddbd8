//! A node for the k8s_cri tests: a scratch host root whose `run/containerd/containerd.sock`
//! is served by a containerd of the test's own (so `endpoint: auto` with `host_root`
//! finds it), a kubelet-like client, a host TCP listener the pods connect to, and the
//! agent configured for it.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use kotel::event::{keys, Event, TcpConnEvent};
use kotel_integration_tests::containerd::{block_on, Containerd, ScratchDir, BUSYBOX_IMAGE};
use kotel_integration_tests::kubelet::{ContainerSpec, Kubelet, PodSpec};

/// The node name the agent is configured with.
pub const NODE: &str = "kotel-test-node";

/// The scratch host root and what lives in it.
pub struct Node {
    pub scratch: ScratchDir,
    pub containerd: Option<Containerd>,
    /// Port of the host listener that accepts and drains every connection.
    pub port: u16,
}

/// A started pod with one container.
pub struct RunningPod {
    pub spec: PodSpec,
    pub container: String,
    /// The container's cgroup v2 id, read while it runs (`None` if it already exited).
    pub cgroup_id: Option<u64>,
}

impl Node {
    /// A scratch root with `proc` linked to the real `/proc` and a listening port; no
    /// containerd yet.
    pub fn new(tag: &str) -> Node {
        let scratch = ScratchDir::new(tag).expect("a scratch directory");
        std::os::unix::fs::symlink("/proc", scratch.path().join("proc")).expect("proc link");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a host listener");
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                    let _ = conn.read(&mut [0u8; 64]);
                });
            }
        });
        Node {
            scratch,
            containerd: None,
            port,
        }
    }

    /// Where containerd listens: the first socket `endpoint: auto` probes.
    pub fn socket(&self) -> PathBuf {
        self.scratch.path().join("run/containerd/containerd.sock")
    }

    /// Starts containerd on [`Node::socket`].
    pub fn start_containerd(&mut self) {
        let socket = self.socket();
        std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
        let state = self.scratch.path().join("containerd");
        self.containerd = Some(Containerd::start(&state, &socket).expect("containerd"));
    }

    /// The agent's pipeline: tcp -> k8s_cri -> (captured) exporter.
    pub fn pipeline(&self, extra: &str) -> String {
        format!(
            "sources:\n  tcp: {{ batch_timeout: 50ms }}\n\
             processors:\n  k8s_cri: {{ host_root: {root}, node_name: {NODE}, pod_labels: [app]{extra} }}\n\
             exporters:\n  debug: {{}}\n\
             pipelines:\n  logs: {{ sources: [tcp], processors: [k8s_cri], exporters: [debug] }}\n",
            root = self.scratch.path().display(),
        )
    }

    /// Runs a hostNetwork pod `name` in `namespace` (label `app=<name>`) whose one
    /// busybox container runs `script` with `$PORT` set to the listener's port.
    pub fn run_pod(&self, name: &str, namespace: &str, script: &str) -> RunningPod {
        let mut spec = PodSpec::host_network(name, namespace);
        spec.labels.push(("app".into(), name.into()));
        let script = format!("PORT={}; {script}", self.port);
        let container = ContainerSpec::new("client", BUSYBOX_IMAGE, &["sh", "-c", &script]);
        let socket = self.socket();
        let container = block_on(async {
            let mut kubelet = Kubelet::connect(&socket).await.expect("CRI");
            let sandbox = kubelet.run_pod(&spec).await.expect("RunPodSandbox");
            let id = kubelet
                .start_container(&sandbox, &spec, &container)
                .await
                .expect("start container");
            id
        });
        let dir = format!("/sys/fs/cgroup/unified{}/{container}", spec.cgroup_parent());
        let cgroup_id = std::fs::metadata(dir).ok().map(|m| m.ino());
        RunningPod {
            spec,
            container,
            cgroup_id,
        }
    }
}

/// The tcp event in `event`, if it is one.
pub fn tcp(event: &Event) -> Option<&TcpConnEvent> {
    match event {
        Event::Tcp(t) => Some(t),
        _ => None,
    }
}

/// The attribute `key` of the event's workload.
pub fn attribute<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event.workload().and_then(|w| w.get(key))
}

/// Asserts that `event` carries exactly `pod`'s identity.
pub fn assert_attributed_to(event: &Event, pod: &RunningPod) {
    let expected = [
        (keys::NODE_NAME, NODE),
        (keys::NAMESPACE, pod.spec.namespace.as_str()),
        (keys::POD_NAME, pod.spec.name.as_str()),
        (keys::POD_UID, pod.spec.uid.as_str()),
        (keys::CONTAINER_NAME, "client"),
        (keys::CONTAINER_ID, pod.container.as_str()),
        (keys::IMAGE_NAME, "docker.io/kotel/busybox"),
        (keys::IMAGE_TAG, "1.36"),
        (keys::RUNTIME, "containerd"),
        ("k8s.pod.label.app", pod.spec.name.as_str()),
    ];
    for (key, value) in expected {
        assert_eq!(attribute(event, key), Some(value), "{key} of {event:?}");
    }
}

/// Asserts that `event` carries host attributes: the node, no container.
pub fn assert_host(event: &Event) {
    assert_eq!(attribute(event, keys::NODE_NAME), Some(NODE), "{event:?}");
    assert_eq!(attribute(event, keys::CONTAINER_ID), None, "{event:?}");
    assert_eq!(attribute(event, keys::POD_NAME), None, "{event:?}");
}

impl Drop for Node {
    fn drop(&mut self) {
        // Pods first (Containerd's drop removes them), then the scratch root.
        self.containerd.take();
    }
}

/// Prints the agent's `kotel.k8s_cri.*` counters (to explain a failure in the log).
pub fn print_cri_counters(test: &str) {
    let snapshot = kotel::telemetry::snapshot();
    for point in snapshot.counters.iter().chain(&snapshot.gauges) {
        if point.name.starts_with("kotel.k8s_cri") {
            eprintln!(
                "{test}: {} {:?} = {}",
                point.name, point.labels, point.value
            );
        }
    }
}
