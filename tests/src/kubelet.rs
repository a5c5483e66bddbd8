//! A CRI client that plays kubelet: pod sandboxes and containers with kubelet labels.
//!
//! It sets what kubelet sets and the runtime cannot know: the `io.kubernetes.pod.*` and
//! `io.kubernetes.container.name` labels, a kubelet-style cgroup parent
//! (`/kubepods/<qos>/pod<uid>`, the cgroupfs driver's layout), a pod log directory, and
//! the namespace options of a hostNetwork pod. Like kubelet it also removes the pod-level
//! cgroup directories that the runtime leaves behind when a pod is removed.
//!
//! Every RPC has a timeout ([`RPC_TIMEOUT`]); errors are strings that name the RPC.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerEventResponse, ContainerMetadata, ContainerStatusRequest,
    CreateContainerRequest, GetEventsRequest, ImageSpec, ImageStatusRequest, LinuxContainerConfig,
    LinuxContainerResources, LinuxContainerSecurityContext, LinuxPodSandboxConfig,
    LinuxSandboxSecurityContext, ListContainersRequest, ListPodSandboxRequest, NamespaceMode,
    NamespaceOption, PodSandboxConfig, PodSandboxMetadata, PodSandboxStatusRequest,
    RemovePodSandboxRequest, RunPodSandboxRequest, StartContainerRequest, StopContainerRequest,
    StopPodSandboxRequest, VersionRequest, VersionResponse,
};
use tonic::transport::{Channel, Endpoint, Uri};

pub use k8s_cri::v1::{Container, PodSandbox};

/// How long any one RPC may take.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// The pod's QoS class, which picks its cgroup parent under `/kubepods`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qos {
    BestEffort,
    Burstable,
}

impl Qos {
    fn cgroup_dir(self) -> &'static str {
        match self {
            Qos::BestEffort => "besteffort",
            Qos::Burstable => "burstable",
        }
    }
}

/// What kubelet knows of a pod when it asks for its sandbox.
#[derive(Debug, Clone)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    /// The pod's own labels (kubelet adds the `io.kubernetes.pod.*` ones).
    pub labels: Vec<(String, String)>,
    /// Share the node's network namespace (`hostNetwork: true`).
    pub host_network: bool,
    pub qos: Qos,
}

impl PodSpec {
    /// A BestEffort hostNetwork pod with a fresh uid: the kind the tests use.
    pub fn host_network(name: &str, namespace: &str) -> Self {
        PodSpec {
            name: name.to_string(),
            namespace: namespace.to_string(),
            uid: fresh_uid(),
            labels: Vec::new(),
            host_network: true,
            qos: Qos::BestEffort,
        }
    }

    /// The pod cgroup kubelet creates with the cgroupfs driver, e.g.
    /// `/kubepods/besteffort/pod<uid>`; each container's cgroup is `<this>/<container id>`.
    pub fn cgroup_parent(&self) -> String {
        format!("/kubepods/{}/pod{}", self.qos.cgroup_dir(), self.uid)
    }

    fn kubelet_labels(&self) -> HashMap<String, String> {
        HashMap::from([
            ("io.kubernetes.pod.name".to_string(), self.name.clone()),
            (
                "io.kubernetes.pod.namespace".to_string(),
                self.namespace.clone(),
            ),
            ("io.kubernetes.pod.uid".to_string(), self.uid.clone()),
        ])
    }

    fn namespace_options(&self) -> NamespaceOption {
        let network = if self.host_network {
            NamespaceMode::Node
        } else {
            NamespaceMode::Pod
        };
        NamespaceOption {
            network: network as i32,
            pid: NamespaceMode::Container as i32,
            ipc: NamespaceMode::Pod as i32,
            ..Default::default()
        }
    }
}

/// What kubelet knows of one container of a pod.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// Replaces the image's entrypoint when not empty.
    pub command: Vec<String>,
    /// Replaces the image's cmd when not empty.
    pub args: Vec<String>,
}

impl ContainerSpec {
    /// A container that runs `argv` (as its command) from `image`.
    pub fn new(name: &str, image: &str, argv: &[&str]) -> Self {
        ContainerSpec {
            name: name.to_string(),
            image: image.to_string(),
            command: argv.iter().map(|a| a.to_string()).collect(),
            args: Vec::new(),
        }
    }
}

/// A CRI v1 client on a runtime's Unix socket, with kubelet's habits.
pub struct Kubelet {
    runtime: RuntimeServiceClient<Channel>,
    images: ImageServiceClient<Channel>,
    log_root: PathBuf,
}

impl Kubelet {
    /// Connects to the CRI socket. Pod logs go under `<socket's directory>/pod-logs`, so
    /// they live and go with the runtime's own directory.
    pub async fn connect(socket: &Path) -> Result<Kubelet, String> {
        let path = socket.to_path_buf();
        let connector = tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(path).await?))
            }
        });
        let endpoint = Endpoint::from_static("http://[::]").connect_timeout(RPC_TIMEOUT);
        let connect = endpoint.connect_with_connector(connector);
        let channel = tokio::time::timeout(RPC_TIMEOUT, connect)
            .await
            .map_err(|_| format!("connecting to {}: timed out", socket.display()))?
            .map_err(|e| format!("connecting to {}: {e}", socket.display()))?;
        Ok(Kubelet {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
            log_root: socket
                .parent()
                .unwrap_or(Path::new("/tmp"))
                .join("pod-logs"),
        })
    }

    /// The raw runtime client, for RPCs this type does not wrap.
    pub fn runtime(&mut self) -> &mut RuntimeServiceClient<Channel> {
        &mut self.runtime
    }

    pub async fn version(&mut self) -> Result<VersionResponse, String> {
        call("Version", self.runtime.version(VersionRequest::default())).await
    }

    /// True when the runtime's image store has `image` (a name such as
    /// `docker.io/kotel/pause:3.9`).
    pub async fn image_present(&mut self, image: &str) -> Result<bool, String> {
        let request = ImageStatusRequest {
            image: Some(image_spec(image)),
            verbose: false,
        };
        let status = call("ImageStatus", self.images.image_status(request)).await?;
        Ok(status.image.is_some())
    }

    /// RunPodSandbox as kubelet would ask for `pod`; returns the sandbox id.
    pub async fn run_pod(&mut self, pod: &PodSpec) -> Result<String, String> {
        let config = self.sandbox_config(pod)?;
        let request = RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        };
        let answer = call("RunPodSandbox", self.runtime.run_pod_sandbox(request)).await?;
        Ok(answer.pod_sandbox_id)
    }

    /// CreateContainer (with kubelet's labels, resources and namespace options) then
    /// StartContainer in the sandbox that [`Kubelet::run_pod`] made for `pod`; returns the
    /// container id.
    pub async fn start_container(
        &mut self,
        sandbox_id: &str,
        pod: &PodSpec,
        container: &ContainerSpec,
    ) -> Result<String, String> {
        let mut labels = pod.kubelet_labels();
        labels.insert(
            "io.kubernetes.container.name".to_string(),
            container.name.clone(),
        );
        std::fs::create_dir_all(self.pod_log_dir(pod).join(&container.name))
            .map_err(|e| format!("creating the container log directory: {e}"))?;
        // Kubelet gives a BestEffort container the minimum CPU shares and the highest OOM
        // score, a Burstable one without requests nearly the same.
        let oom_score_adj = match pod.qos {
            Qos::BestEffort => 1000,
            Qos::Burstable => 999,
        };
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: container.name.clone(),
                attempt: 0,
            }),
            image: Some(image_spec(&container.image)),
            command: container.command.clone(),
            args: container.args.clone(),
            labels,
            log_path: format!("{}/0.log", container.name),
            linux: Some(LinuxContainerConfig {
                resources: Some(LinuxContainerResources {
                    cpu_shares: 2,
                    oom_score_adj,
                    ..Default::default()
                }),
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(pod.namespace_options()),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        let request = CreateContainerRequest {
            pod_sandbox_id: sandbox_id.to_string(),
            config: Some(config),
            sandbox_config: Some(self.sandbox_config(pod)?),
        };
        let id = call("CreateContainer", self.runtime.create_container(request))
            .await?
            .container_id;
        let start = StartContainerRequest {
            container_id: id.clone(),
        };
        call("StartContainer", self.runtime.start_container(start)).await?;
        Ok(id)
    }

    /// The runtime's verbose `info` of a container (containerd: `pid`, `runtimeSpec`, ...).
    pub async fn container_status_info(&mut self, id: &str) -> Result<serde_json::Value, String> {
        let request = ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: true,
        };
        let answer = call("ContainerStatus", self.runtime.container_status(request)).await?;
        info_json("ContainerStatus", &answer.info)
    }

    /// The host pid of a container's first process, from its verbose status.
    pub async fn container_pid(&mut self, id: &str) -> Result<u32, String> {
        let info = self.container_status_info(id).await?;
        info["pid"]
            .as_u64()
            .filter(|&pid| pid > 0)
            .map(|pid| pid as u32)
            .ok_or_else(|| format!("ContainerStatus: no pid for {id} in {info}"))
    }

    /// StopContainer with a grace period of `timeout_s` seconds.
    pub async fn stop_container(&mut self, id: &str, timeout_s: i64) -> Result<(), String> {
        let request = StopContainerRequest {
            container_id: id.to_string(),
            timeout: timeout_s,
        };
        call("StopContainer", self.runtime.stop_container(request)).await?;
        Ok(())
    }

    pub async fn list_pods(&mut self) -> Result<Vec<PodSandbox>, String> {
        let request = ListPodSandboxRequest { filter: None };
        Ok(
            call("ListPodSandbox", self.runtime.list_pod_sandbox(request))
                .await?
                .items,
        )
    }

    pub async fn list_containers(&mut self) -> Result<Vec<Container>, String> {
        let request = ListContainersRequest { filter: None };
        Ok(
            call("ListContainers", self.runtime.list_containers(request))
                .await?
                .containers,
        )
    }

    /// StopPodSandbox then RemovePodSandbox (which removes its containers), then the pod's
    /// cgroup directories, which the runtime leaves behind because kubelet owns them.
    pub async fn remove_pod(&mut self, sandbox_id: &str) -> Result<(), String> {
        let status = PodSandboxStatusRequest {
            pod_sandbox_id: sandbox_id.to_string(),
            verbose: true,
        };
        let answer = call("PodSandboxStatus", self.runtime.pod_sandbox_status(status)).await?;
        let info = info_json("PodSandboxStatus", &answer.info)?;
        let stop = StopPodSandboxRequest {
            pod_sandbox_id: sandbox_id.to_string(),
        };
        call("StopPodSandbox", self.runtime.stop_pod_sandbox(stop)).await?;
        let remove = RemovePodSandboxRequest {
            pod_sandbox_id: sandbox_id.to_string(),
        };
        call("RemovePodSandbox", self.runtime.remove_pod_sandbox(remove)).await?;
        // The sandbox's own cgroup is `<pod cgroup>/<sandbox id>`.
        let sandbox_cgroup = info["runtimeSpec"]["linux"]["cgroupsPath"]
            .as_str()
            .unwrap_or("");
        if let Some(pod_cgroup) = Path::new(sandbox_cgroup).parent() {
            if pod_cgroup.starts_with("/kubepods/") {
                remove_cgroup_dirs(pod_cgroup);
            }
        }
        Ok(())
    }

    /// Opens GetContainerEvents. The status is returned as it came so that a caller can
    /// tell `Unimplemented` (a runtime without the RPC) from other failures.
    pub async fn container_events(
        &mut self,
    ) -> Result<tonic::Streaming<ContainerEventResponse>, tonic::Status> {
        let open = self.runtime.get_container_events(GetEventsRequest {});
        match tokio::time::timeout(RPC_TIMEOUT, open).await {
            Ok(answer) => answer.map(tonic::Response::into_inner),
            Err(_) => Err(tonic::Status::deadline_exceeded(
                "GetContainerEvents: timed out",
            )),
        }
    }

    /// The directory kubelet would use for the pod's logs (`<ns>_<name>_<uid>`).
    fn pod_log_dir(&self, pod: &PodSpec) -> PathBuf {
        self.log_root
            .join(format!("{}_{}_{}", pod.namespace, pod.name, pod.uid))
    }

    fn sandbox_config(&self, pod: &PodSpec) -> Result<PodSandboxConfig, String> {
        let log_directory = self.pod_log_dir(pod);
        std::fs::create_dir_all(&log_directory)
            .map_err(|e| format!("creating {}: {e}", log_directory.display()))?;
        let mut labels = pod.kubelet_labels();
        labels.extend(pod.labels.iter().cloned());
        Ok(PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: pod.name.clone(),
                uid: pod.uid.clone(),
                namespace: pod.namespace.clone(),
                attempt: 0,
            }),
            // A hostNetwork pod keeps the node's hostname: the runtime refuses one here.
            hostname: if pod.host_network {
                String::new()
            } else {
                pod.name.clone()
            },
            log_directory: log_directory.to_string_lossy().into_owned(),
            labels,
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: pod.cgroup_parent(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(pod.namespace_options()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

/// Awaits one RPC with [`RPC_TIMEOUT`]; the error names the RPC.
async fn call<T>(
    rpc: &str,
    answer: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, String> {
    match tokio::time::timeout(RPC_TIMEOUT, answer).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(format!("{rpc}: {:?}: {}", status.code(), status.message())),
        Err(_) => Err(format!("{rpc}: no answer in {RPC_TIMEOUT:?}")),
    }
}

fn image_spec(image: &str) -> ImageSpec {
    ImageSpec {
        image: image.to_string(),
        ..Default::default()
    }
}

/// Parses the `info` entry of a verbose status answer.
fn info_json(rpc: &str, info: &HashMap<String, String>) -> Result<serde_json::Value, String> {
    let text = info
        .get("info")
        .ok_or_else(|| format!("{rpc}: no verbose info in the answer"))?;
    serde_json::from_str(text).map_err(|e| format!("{rpc}: verbose info is not JSON: {e}"))
}

/// Removes `cgroup` (a path such as `/kubepods/besteffort/pod<uid>`) from every mounted
/// cgroup hierarchy, v1 and v2. Best effort: a directory still in use stays.
fn remove_cgroup_dirs(cgroup: &Path) {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let relative = cgroup.strip_prefix("/").unwrap_or(cgroup);
    for line in mountinfo.lines() {
        // "<id> <parent> <dev> <root> <mount point> <options> ... - <fstype> ..."
        let mut halves = line.splitn(2, " - ");
        let (Some(left), Some(right)) = (halves.next(), halves.next()) else {
            continue;
        };
        let fstype = right.split(' ').next().unwrap_or("");
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        if let Some(mount_point) = left.split(' ').nth(4) {
            let _ = std::fs::remove_dir(Path::new(mount_point).join(relative));
        }
    }
}

/// A uid in the shape of a Kubernetes pod uid, unique on this machine for a test run.
fn fresh_uid() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        std::process::id(),
        n & 0xffff,
        (nanos >> 48) & 0xfff,
        (nanos >> 36) & 0xfff,
        nanos & 0xffff_ffff_ffff
    )
}
