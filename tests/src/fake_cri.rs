//! An in-process CRI server for fault injection: slow, failing or garbage answers.
//!
//! [`FakeCri`] serves the CRI v1 `RuntimeService` on a unix socket from a state that the
//! test changes while the server runs: the containers ([`FakeContainer`]), whether
//! `GetContainerEvents` is on, and a [`Fault`] per RPC. It answers like containerd does
//! where the `k8s_cri` processor looks: `Version`, `ListContainers`, `ContainerStatus`
//! (with containerd's verbose `info` JSON), `ListPodSandbox`, `PodSandboxStatus` and
//! `GetContainerEvents`. Every other RPC answers `Unimplemented`.
//!
//! Faults act on whole requests, before the answer is built, so they hold for every RPC,
//! the unimplemented ones included; [`Fault::Garbage`] is the exception: it changes what
//! the answering RPCs put in well-formed answers. Every request is counted
//! ([`FakeCri::calls`]), whatever its fault.

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_cri::v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
use k8s_cri::v1::{self, ContainerEventType, ContainerState, PodSandboxState};
use serde_json::json;
use tokio::net::UnixListener;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::body::Body;
use tonic::codegen::{http, BoxFuture};
use tonic::server::NamedService;
use tonic::transport::Server;
use tonic::{Code, Request, Response, Status};
use tower::{Service, ServiceExt};

/// The length of the values that [`Garbage::HugeLabels`] puts in: 1 MiB.
pub const HUGE_VALUE_LEN: usize = 1 << 20;

/// The creation time, in nanoseconds, that [`Garbage::AbsurdTimestamps`] reports.
pub const ABSURD_TIMESTAMP: i64 = i64::MIN;

/// What one RPC does instead of answering normally. The fault in effect for an RPC is the
/// one set for its name ([`FakeCri::set_fault`]), else the one set for all RPCs
/// ([`FakeCri::set_fault_all`]), else `None`. Faults take effect from the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Answers normally.
    #[default]
    None,
    /// Answers normally after this long (the answer reflects the state after the wait).
    Delay(Duration),
    /// Fails with this code, before looking at the request.
    Status(Code),
    /// Answers with well-formed messages of the right type but wrong content.
    Garbage(Garbage),
    /// Answers `200`, `content-type: application/grpc` and one length-prefixed gRPC frame
    /// whose bytes are no protobuf message, so that the client fails to decode it.
    WireGarbage,
    /// Never answers: the client's timeout has to fire. A hanging request ends, with
    /// `Unavailable`, only when the server stops.
    Hang,
}

/// Which wrong content [`Fault::Garbage`] puts into answers. Each kind shows in the RPCs
/// that carry the field it spoils and leaves the others healthy. Filters and lookups by
/// id (`ListContainers`' filter, `ContainerStatus`) see the true state; the garbage is in
/// what they answer. Events carry one container each, so the kinds that set containers
/// against each other (`SharedCgroupsPath`, `DuplicateIds`) do not show in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Garbage {
    /// `ContainerStatus`: `info["info"]` is the healthy JSON cut in half, so not JSON.
    InfoNotJson,
    /// `ContainerStatus`: `info["info"]` is JSON with only `sandboxID`: no `pid`, no
    /// `runtimeSpec`.
    InfoMissingFields,
    /// `ContainerStatus`: `info["info"]` has `"pid": "<pid>"`, a string.
    PidAsString,
    /// `ContainerStatus`: `info["info"]` has this `runtimeSpec.linux.cgroupsPath` for every
    /// container, e.g. `"/"`, `"/system.slice"` or `"/../.."`.
    CgroupsPath(&'static str),
    /// `ContainerStatus`: every container claims the `cgroupsPath` of the first container.
    SharedCgroupsPath,
    /// Container ids are empty, wherever a container id is answered.
    EmptyIds,
    /// Container ids are not 64 hex digits: `not-hex/<true id>`, wherever answered.
    MalformedIds,
    /// Every container carries the id of the first container (`ListContainers`,
    /// `ContainerStatus`).
    DuplicateIds,
    /// The first container's pod name, and with it its pod-name label, sandbox-name
    /// annotation and sandbox name, is [`HUGE_VALUE_LEN`] bytes long (2 MiB per container
    /// answer: one more such container would pass a default tonic client's 4 MiB limit).
    HugeLabels,
    /// Creation times are [`ABSURD_TIMESTAMP`], and start and finish times follow them;
    /// events carry it as their time too.
    AbsurdTimestamps,
    /// Optional sub-messages are absent: `ContainerStatusResponse.status`,
    /// `PodSandboxStatusResponse.status`, and the metadata and image of listed containers
    /// and sandboxes.
    MissingMessages,
}

/// One container as the fake runtime knows it. Labels and annotations are the container's
/// own; the fake adds what containerd and kubelet set (see [`FakeContainer::labels`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_ref: String,
    pub pod_name: String,
    pub namespace: String,
    pub pod_uid: String,
    pub pod_sandbox_id: String,
    pub labels: HashMap<String, String>,
    pub annotations: HashMap<String, String>,
    /// `runtimeSpec.linux.cgroupsPath` in the verbose info.
    pub cgroups_path: String,
    /// `pid` in the verbose info.
    pub pid: u32,
    pub state: ContainerState,
    /// Nanoseconds since the epoch.
    pub created_at: i64,
}

impl FakeContainer {
    /// A running container `name` of pod `pod_name` in namespace `default`. Ids and the
    /// pod uid are derived from the names ([`hex_id`]), so the same names give the same
    /// container; containers of one pod share its uid and sandbox. The cgroups path is
    /// the cgroupfs driver's `/kubepods/besteffort/pod<uid>/<id>`; the pid is 0 until the
    /// test sets one.
    pub fn new(name: &str, pod_name: &str) -> FakeContainer {
        let pod_uid = uuid_like(pod_name);
        let id = hex_id(&format!("{pod_name}/{name}"));
        FakeContainer {
            cgroups_path: format!("/kubepods/besteffort/pod{pod_uid}/{id}"),
            id,
            name: name.to_string(),
            image: "docker.io/library/busybox:1.36".to_string(),
            image_ref: format!("docker.io/library/busybox@sha256:{}", hex_id("busybox")),
            pod_name: pod_name.to_string(),
            namespace: "default".to_string(),
            pod_sandbox_id: hex_id(&pod_uid),
            pod_uid,
            labels: HashMap::new(),
            annotations: HashMap::new(),
            pid: 0,
            state: ContainerState::ContainerRunning,
            created_at: now_ns(),
        }
    }

    /// The labels the runtime reports: kubelet's `io.kubernetes.container.name` and
    /// `io.kubernetes.pod.{name,namespace,uid}`, then the container's own (which win).
    pub fn labels(&self) -> HashMap<String, String> {
        let mut labels = strings([
            ("io.kubernetes.container.name", &self.name),
            ("io.kubernetes.pod.name", &self.pod_name),
            ("io.kubernetes.pod.namespace", &self.namespace),
            ("io.kubernetes.pod.uid", &self.pod_uid),
        ]);
        labels.extend(self.labels.clone());
        labels
    }

    /// The annotations the runtime reports: containerd's `io.kubernetes.cri.*`
    /// (container-type, container-name, sandbox-id, sandbox-name, sandbox-namespace,
    /// sandbox-uid, image-name), then the container's own (which win).
    pub fn annotations(&self) -> HashMap<String, String> {
        let mut annotations = strings([
            ("io.kubernetes.cri.container-type", "container"),
            ("io.kubernetes.cri.container-name", &self.name),
            ("io.kubernetes.cri.sandbox-id", &self.pod_sandbox_id),
            ("io.kubernetes.cri.sandbox-name", &self.pod_name),
            ("io.kubernetes.cri.sandbox-namespace", &self.namespace),
            ("io.kubernetes.cri.sandbox-uid", &self.pod_uid),
            ("io.kubernetes.cri.image-name", &self.image),
        ]);
        annotations.extend(self.annotations.clone());
        annotations
    }

    fn is_running(&self) -> bool {
        self.state == ContainerState::ContainerRunning
    }

    fn metadata(&self) -> Option<v1::ContainerMetadata> {
        Some(v1::ContainerMetadata {
            name: self.name.clone(),
            attempt: 0,
        })
    }

    fn image_spec(&self) -> Option<v1::ImageSpec> {
        Some(v1::ImageSpec {
            image: self.image.clone(),
            ..Default::default()
        })
    }

    fn to_container(&self) -> v1::Container {
        v1::Container {
            id: self.id.clone(),
            pod_sandbox_id: self.pod_sandbox_id.clone(),
            metadata: self.metadata(),
            image: self.image_spec(),
            image_ref: self.image_ref.clone(),
            state: self.state as i32,
            created_at: self.created_at,
            labels: self.labels(),
            annotations: self.annotations(),
            image_id: self.image_ref.clone(),
        }
    }

    fn to_status(&self) -> v1::ContainerStatus {
        let exited = self.state == ContainerState::ContainerExited;
        v1::ContainerStatus {
            id: self.id.clone(),
            metadata: self.metadata(),
            state: self.state as i32,
            created_at: self.created_at,
            started_at: self.created_at,
            finished_at: if exited {
                self.created_at.saturating_add(1_000_000_000)
            } else {
                0
            },
            image: self.image_spec(),
            image_ref: self.image_ref.clone(),
            labels: self.labels(),
            annotations: self.annotations(),
            image_id: self.image_ref.clone(),
            ..Default::default()
        }
    }

    /// containerd's verbose `info["info"]`, reduced to what a client looks at.
    fn info_json(&self, garbage: Option<Garbage>) -> String {
        let pid = match garbage {
            Some(Garbage::PidAsString) => json!(self.pid.to_string()),
            _ => json!(self.pid),
        };
        let info = match garbage {
            Some(Garbage::InfoMissingFields) => json!({ "sandboxID": self.pod_sandbox_id }),
            _ => json!({
                "sandboxID": self.pod_sandbox_id,
                "pid": pid,
                "removing": false,
                "runtimeType": "io.containerd.runc.v2",
                "runtimeSpec": { "linux": { "cgroupsPath": self.cgroups_path } },
            }),
        }
        .to_string();
        match garbage {
            Some(Garbage::InfoNotJson) => info.chars().take(info.chars().count() / 2).collect(),
            _ => info,
        }
    }

    fn sandbox_metadata(&self) -> Option<v1::PodSandboxMetadata> {
        Some(v1::PodSandboxMetadata {
            name: self.pod_name.clone(),
            uid: self.pod_uid.clone(),
            namespace: self.namespace.clone(),
            attempt: 0,
        })
    }
}

/// A deterministic 64-hex-digit id (like a container or sandbox id) derived from `seed`.
pub fn hex_id(seed: &str) -> String {
    (0u8..4)
        .map(|round| {
            let mut hasher = DefaultHasher::new();
            (seed, round).hash(&mut hasher);
            format!("{:016x}", hasher.finish())
        })
        .collect()
}

/// A deterministic UUID-shaped pod uid derived from `seed`.
fn uuid_like(seed: &str) -> String {
    let hex = hex_id(seed);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn strings<const N: usize>(pairs: [(&str, &str); N]) -> HashMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn now_ns() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX)
}

/// A CRI v1 runtime on a unix socket, served by a task of the current Tokio runtime.
/// Dropping it stops it ([`FakeCri::stop`]).
pub struct FakeCri {
    socket: PathBuf,
    shared: Arc<Shared>,
    serving: Option<Serving>,
}

impl FakeCri {
    /// Listens on `socket` (which must not exist) and serves, with no containers, no
    /// faults and `GetContainerEvents` off. Must be called within a Tokio runtime.
    pub fn start(socket: &Path) -> io::Result<FakeCri> {
        let (changes, _) = broadcast::channel(EVENT_BACKLOG);
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            changes,
        });
        let serving = Some(serve(socket, shared.clone())?);
        Ok(FakeCri {
            socket: socket.to_path_buf(),
            shared,
            serving,
        })
    }

    /// The socket it serves on (or will again, after [`FakeCri::restart`]).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Stops serving at once, like a runtime that dies: the socket file is removed, open
    /// connections are closed gracefully, hanging and delayed requests answer
    /// `Unavailable` and event streams end. Idempotent.
    pub fn stop(&mut self) {
        if let Some(serving) = self.serving.take() {
            serving.stopped.send_replace(true);
            serving.task.abort();
            let _ = std::fs::remove_file(&self.socket);
        }
    }

    /// Stops (if serving) and serves again on the same socket, keeping containers,
    /// faults, the events switch and call counts: a runtime restart.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.serving = Some(serve(&self.socket, self.shared.clone())?);
        Ok(())
    }

    /// The containers as they are now, in order.
    pub fn containers(&self) -> Vec<FakeContainer> {
        self.shared.lock().containers.clone()
    }

    /// Replaces all containers. Event streams hear of the containers whose ids left or
    /// came, as for [`FakeCri::remove_container`] and [`FakeCri::add_container`].
    pub fn set_containers(&self, containers: Vec<FakeContainer>) {
        let mut state = self.shared.lock();
        let old = std::mem::replace(&mut state.containers, containers);
        for gone in old.iter().filter(|c| !state.has(&c.id)) {
            self.shared.announce_removal(gone);
        }
        for came in state
            .containers
            .iter()
            .filter(|c| !old.iter().any(|o| o.id == c.id))
        {
            self.shared.announce_addition(came);
        }
    }

    /// Adds a container after the others (even one with an id already there). Event
    /// streams get `CONTAINER_CREATED_EVENT`, then `CONTAINER_STARTED_EVENT` if it runs.
    pub fn add_container(&self, container: FakeContainer) {
        let mut state = self.shared.lock();
        self.shared.announce_addition(&container);
        state.containers.push(container);
    }

    /// Removes the first container with this id and returns it. Event streams get
    /// `CONTAINER_STOPPED_EVENT` if it ran, then `CONTAINER_DELETED_EVENT`.
    pub fn remove_container(&self, id: &str) -> Option<FakeContainer> {
        let mut state = self.shared.lock();
        let index = state.containers.iter().position(|c| c.id == id)?;
        let gone = state.containers.remove(index);
        self.shared.announce_removal(&gone);
        Some(gone)
    }

    /// Sets the fault of one RPC, named as in its gRPC path (`"ContainerStatus"`); it
    /// overrides [`FakeCri::set_fault_all`], so `Fault::None` here exempts the RPC.
    /// Panics on a name that is no `RuntimeService` RPC.
    pub fn set_fault(&self, rpc: &str, fault: Fault) {
        let rpc = known_rpc(rpc).to_string();
        self.shared.lock().faults.insert(rpc, fault);
    }

    /// Sets the fault of every RPC that has none of its own.
    pub fn set_fault_all(&self, fault: Fault) {
        self.shared.lock().fault_all = fault;
    }

    /// Removes all faults, per RPC and for all.
    pub fn clear_faults(&self) {
        let mut state = self.shared.lock();
        state.faults.clear();
        state.fault_all = Fault::None;
    }

    /// Turns `GetContainerEvents` on (streams of state changes) or off (`Unimplemented`,
    /// as containerd 1.6 answers). Turning it off leaves open streams open.
    pub fn set_events(&self, enabled: bool) {
        self.shared.lock().events = enabled;
    }

    /// How many requests for this RPC arrived since [`FakeCri::start`], whatever their
    /// fault or outcome. Panics on a name that is no `RuntimeService` RPC.
    pub fn calls(&self, rpc: &str) -> u64 {
        let rpc = known_rpc(rpc);
        self.shared.lock().calls.get(rpc).copied().unwrap_or(0)
    }
}

impl Drop for FakeCri {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How many changes an event stream may fall behind before it ends with `DataLoss`.
const EVENT_BACKLOG: usize = 1024;

/// What the server task and the test share.
struct Shared {
    state: Mutex<State>,
    /// Container additions and removals, for `GetContainerEvents` streams.
    changes: broadcast::Sender<Change>,
}

#[derive(Default)]
struct State {
    containers: Vec<FakeContainer>,
    faults: HashMap<String, Fault>,
    fault_all: Fault,
    events: bool,
    calls: HashMap<String, u64>,
}

impl State {
    fn has(&self, id: &str) -> bool {
        self.containers.iter().any(|c| c.id == id)
    }
}

impl Shared {
    /// The state, even after a test thread panicked while holding it.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request for `rpc` and returns the fault in effect for it.
    fn arrived(&self, rpc: &str) -> Fault {
        let mut state = self.lock();
        *state.calls.entry(rpc.to_string()).or_default() += 1;
        state.faults.get(rpc).copied().unwrap_or(state.fault_all)
    }

    fn announce_addition(&self, container: &FakeContainer) {
        self.announce(container, ContainerEventType::ContainerCreatedEvent);
        if container.is_running() {
            self.announce(container, ContainerEventType::ContainerStartedEvent);
        }
    }

    fn announce_removal(&self, container: &FakeContainer) {
        if container.is_running() {
            self.announce(container, ContainerEventType::ContainerStoppedEvent);
        }
        self.announce(container, ContainerEventType::ContainerDeletedEvent);
    }

    fn announce(&self, container: &FakeContainer, kind: ContainerEventType) {
        // No stream open is no error.
        let _ = self.changes.send(Change {
            container: container.clone(),
            kind,
        });
    }
}

#[derive(Debug, Clone)]
struct Change {
    container: FakeContainer,
    kind: ContainerEventType,
}

impl Change {
    fn event(&self, garbage: Option<Garbage>) -> v1::ContainerEventResponse {
        let view = garbled(std::slice::from_ref(&self.container), garbage);
        let container = &view[0];
        v1::ContainerEventResponse {
            container_id: container.id.clone(),
            container_event_type: self.kind as i32,
            created_at: match garbage {
                Some(Garbage::AbsurdTimestamps) => ABSURD_TIMESTAMP,
                _ => now_ns(),
            },
            pod_sandbox_status: sandboxes(&view).pop(),
            containers_statuses: vec![container.to_status()],
        }
    }
}

/// The answers as `garbage` spoils them: a copy of `containers`, index for index.
fn garbled(containers: &[FakeContainer], garbage: Option<Garbage>) -> Vec<FakeContainer> {
    let mut view = containers.to_vec();
    let (Some(garbage), Some(first)) = (garbage, containers.first()) else {
        return view;
    };
    for (index, container) in view.iter_mut().enumerate() {
        match garbage {
            Garbage::CgroupsPath(path) => container.cgroups_path = path.to_string(),
            Garbage::SharedCgroupsPath => container.cgroups_path = first.cgroups_path.clone(),
            Garbage::EmptyIds => container.id.clear(),
            Garbage::MalformedIds => container.id = format!("not-hex/{}", container.id),
            Garbage::DuplicateIds => container.id = first.id.clone(),
            Garbage::HugeLabels if index == 0 => container.pod_name = "x".repeat(HUGE_VALUE_LEN),
            Garbage::AbsurdTimestamps => container.created_at = ABSURD_TIMESTAMP,
            Garbage::InfoNotJson
            | Garbage::InfoMissingFields
            | Garbage::PidAsString
            | Garbage::HugeLabels
            | Garbage::MissingMessages => {}
        }
    }
    view
}

/// One sandbox per distinct `pod_sandbox_id`, in order of first appearance, described by
/// its first container; ready while any of its containers runs.
fn sandboxes(view: &[FakeContainer]) -> Vec<v1::PodSandboxStatus> {
    let mut sandboxes: Vec<v1::PodSandboxStatus> = Vec::new();
    for container in view {
        let ready = container.is_running();
        if let Some(known) = sandboxes
            .iter_mut()
            .find(|s| s.id == container.pod_sandbox_id)
        {
            if ready {
                known.state = PodSandboxState::SandboxReady as i32;
            }
            continue;
        }
        let state = if ready {
            PodSandboxState::SandboxReady
        } else {
            PodSandboxState::SandboxNotready
        };
        let labels = container.labels();
        let pod_labels = labels
            .into_iter()
            .filter(|(k, _)| k.starts_with("io.kubernetes.pod."));
        sandboxes.push(v1::PodSandboxStatus {
            id: container.pod_sandbox_id.clone(),
            metadata: container.sandbox_metadata(),
            state: state as i32,
            created_at: container.created_at,
            labels: pod_labels.collect(),
            ..Default::default()
        });
    }
    sandboxes
}

/// The garbage the fault layer attached to a request, if any.
fn garbage_of<T>(request: &Request<T>) -> Option<Garbage> {
    request.extensions().get::<Garbage>().copied()
}

fn container_matches(filter: &v1::ContainerFilter, container: &FakeContainer) -> bool {
    (filter.id.is_empty() || filter.id == container.id)
        && (filter.pod_sandbox_id.is_empty() || filter.pod_sandbox_id == container.pod_sandbox_id)
        && filter
            .state
            .as_ref()
            .is_none_or(|s| s.state == container.state as i32)
        && label_selector_matches(&filter.label_selector, &container.labels())
}

fn sandbox_matches(filter: &v1::PodSandboxFilter, sandbox: &v1::PodSandboxStatus) -> bool {
    (filter.id.is_empty() || filter.id == sandbox.id)
        && filter
            .state
            .as_ref()
            .is_none_or(|s| s.state == sandbox.state)
        && label_selector_matches(&filter.label_selector, &sandbox.labels)
}

fn label_selector_matches(
    selector: &HashMap<String, String>,
    labels: &HashMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

type Answer<T> = Result<Response<T>, Status>;
type EventStream = ReceiverStream<Result<v1::ContainerEventResponse, Status>>;

/// The answers of the RPCs the fake implements, built from the state as it is when the
/// request arrives. Faults other than garbage never get here.
#[derive(Clone)]
struct Runtime {
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
}

impl Runtime {
    fn version(&self, _: Request<v1::VersionRequest>) -> Answer<v1::VersionResponse> {
        Ok(Response::new(v1::VersionResponse {
            version: "0.1.0".to_string(),
            runtime_name: "fake-cri".to_string(),
            runtime_version: "1.0.0-fake".to_string(),
            runtime_api_version: "v1".to_string(),
        }))
    }

    fn list_containers(
        &self,
        request: Request<v1::ListContainersRequest>,
    ) -> Answer<v1::ListContainersResponse> {
        let garbage = garbage_of(&request);
        let filter = request.into_inner().filter.unwrap_or_default();
        let state = self.shared.lock();
        let view = garbled(&state.containers, garbage);
        let containers = state
            .containers
            .iter()
            .zip(&view)
            .filter(|(truth, _)| container_matches(&filter, truth))
            .map(|(_, answer)| {
                let mut container = answer.to_container();
                if garbage == Some(Garbage::MissingMessages) {
                    container.metadata = None;
                    container.image = None;
                }
                container
            })
            .collect();
        Ok(Response::new(v1::ListContainersResponse { containers }))
    }

    fn container_status(
        &self,
        request: Request<v1::ContainerStatusRequest>,
    ) -> Answer<v1::ContainerStatusResponse> {
        let garbage = garbage_of(&request);
        let request = request.into_inner();
        let state = self.shared.lock();
        let Some(index) = state
            .containers
            .iter()
            .position(|c| c.id == request.container_id)
        else {
            let missing = format!("container {:?}: not found", request.container_id);
            return Err(Status::not_found(missing));
        };
        let container = &garbled(&state.containers, garbage)[index];
        let mut info = HashMap::new();
        if request.verbose {
            info.insert("info".to_string(), container.info_json(garbage));
        }
        let status = (garbage != Some(Garbage::MissingMessages)).then(|| container.to_status());
        Ok(Response::new(v1::ContainerStatusResponse { status, info }))
    }

    fn list_pod_sandbox(
        &self,
        request: Request<v1::ListPodSandboxRequest>,
    ) -> Answer<v1::ListPodSandboxResponse> {
        let garbage = garbage_of(&request);
        let filter = request.into_inner().filter.unwrap_or_default();
        let view = garbled(&self.shared.lock().containers, garbage);
        let items = sandboxes(&view)
            .into_iter()
            .filter(|sandbox| sandbox_matches(&filter, sandbox))
            .map(|sandbox| v1::PodSandbox {
                id: sandbox.id,
                metadata: sandbox
                    .metadata
                    .filter(|_| garbage != Some(Garbage::MissingMessages)),
                state: sandbox.state,
                created_at: sandbox.created_at,
                labels: sandbox.labels,
                annotations: sandbox.annotations,
                runtime_handler: sandbox.runtime_handler,
            })
            .collect();
        Ok(Response::new(v1::ListPodSandboxResponse { items }))
    }

    fn pod_sandbox_status(
        &self,
        request: Request<v1::PodSandboxStatusRequest>,
    ) -> Answer<v1::PodSandboxStatusResponse> {
        let garbage = garbage_of(&request);
        let id = request.into_inner().pod_sandbox_id;
        let view = garbled(&self.shared.lock().containers, garbage);
        let Some(sandbox) = sandboxes(&view).into_iter().find(|s| s.id == id) else {
            return Err(Status::not_found(format!("pod sandbox {id:?}: not found")));
        };
        Ok(Response::new(v1::PodSandboxStatusResponse {
            status: Some(sandbox).filter(|_| garbage != Some(Garbage::MissingMessages)),
            timestamp: now_ns(),
            ..Default::default()
        }))
    }

    /// A stream of the changes made after this request, until the client goes or the
    /// server stops.
    fn get_container_events(&self, request: Request<v1::GetEventsRequest>) -> Answer<EventStream> {
        let garbage = garbage_of(&request);
        let changes = {
            let state = self.shared.lock();
            if !state.events {
                return Err(Status::unimplemented("fake-cri: GetContainerEvents is off"));
            }
            self.shared.changes.subscribe()
        };
        let (events, stream) = mpsc::channel(16);
        tokio::spawn(forward(changes, events, self.stopped.clone(), garbage));
        Ok(Response::new(ReceiverStream::new(stream)))
    }
}

/// Sends every change as an event until the stream's receiver goes or the server stops.
async fn forward(
    mut changes: broadcast::Receiver<Change>,
    events: mpsc::Sender<Result<v1::ContainerEventResponse, Status>>,
    stopped: watch::Receiver<bool>,
    garbage: Option<Garbage>,
) {
    let mut stopped = std::pin::pin!(until_stopped(stopped));
    loop {
        let event = tokio::select! {
            change = changes.recv() => match change {
                Ok(change) => Ok(change.event(garbage)),
                Err(RecvError::Lagged(n)) => Err(Status::data_loss(format!("fake-cri: {n} events lost"))),
                Err(RecvError::Closed) => return,
            },
            _ = events.closed() => return,
            _ = &mut stopped => return,
        };
        let end = event.is_err();
        if events.send(event).await.is_err() || end {
            return;
        }
    }
}

/// Implements `RuntimeService` for [`CriService`]: the `answered` RPCs by the
/// [`Runtime`] method of the same name, the `unimplemented` ones by `Unimplemented`.
/// Also lists every RPC's name in [`RPCS`].
macro_rules! runtime_service {
    (
        answered { $($rpc:ident => $method:ident($request:ident) -> $response:ty;)* }
        unimplemented { $($u_rpc:ident => $u_method:ident($u_request:ident, $u_response:ident);)* }
    ) => {
        /// The name of every `RuntimeService` RPC, as in its gRPC path.
        const RPCS: &[&str] = &[$(stringify!($rpc),)* $(stringify!($u_rpc),)*];

        #[tonic::async_trait]
        impl RuntimeService for CriService {
            type GetContainerEventsStream = EventStream;
            $(
                async fn $method(&self, request: Request<v1::$request>) -> Answer<$response> {
                    self.0.$method(request)
                }
            )*
            $(
                async fn $u_method(&self, _: Request<v1::$u_request>) -> Answer<v1::$u_response> {
                    Err(Status::unimplemented(concat!("fake-cri: no ", stringify!($u_rpc))))
                }
            )*
        }
    };
}

/// The generated server's view of [`Runtime`].
struct CriService(Runtime);

runtime_service! {
    answered {
        Version => version(VersionRequest) -> v1::VersionResponse;
        ListContainers => list_containers(ListContainersRequest) -> v1::ListContainersResponse;
        ContainerStatus => container_status(ContainerStatusRequest) -> v1::ContainerStatusResponse;
        ListPodSandbox => list_pod_sandbox(ListPodSandboxRequest) -> v1::ListPodSandboxResponse;
        PodSandboxStatus => pod_sandbox_status(PodSandboxStatusRequest) -> v1::PodSandboxStatusResponse;
        GetContainerEvents => get_container_events(GetEventsRequest) -> EventStream;
    }
    unimplemented {
        RunPodSandbox => run_pod_sandbox(RunPodSandboxRequest, RunPodSandboxResponse);
        StopPodSandbox => stop_pod_sandbox(StopPodSandboxRequest, StopPodSandboxResponse);
        RemovePodSandbox => remove_pod_sandbox(RemovePodSandboxRequest, RemovePodSandboxResponse);
        CreateContainer => create_container(CreateContainerRequest, CreateContainerResponse);
        StartContainer => start_container(StartContainerRequest, StartContainerResponse);
        StopContainer => stop_container(StopContainerRequest, StopContainerResponse);
        RemoveContainer => remove_container(RemoveContainerRequest, RemoveContainerResponse);
        UpdateContainerResources => update_container_resources(UpdateContainerResourcesRequest, UpdateContainerResourcesResponse);
        ReopenContainerLog => reopen_container_log(ReopenContainerLogRequest, ReopenContainerLogResponse);
        ExecSync => exec_sync(ExecSyncRequest, ExecSyncResponse);
        Exec => exec(ExecRequest, ExecResponse);
        Attach => attach(AttachRequest, AttachResponse);
        PortForward => port_forward(PortForwardRequest, PortForwardResponse);
        ContainerStats => container_stats(ContainerStatsRequest, ContainerStatsResponse);
        ListContainerStats => list_container_stats(ListContainerStatsRequest, ListContainerStatsResponse);
        PodSandboxStats => pod_sandbox_stats(PodSandboxStatsRequest, PodSandboxStatsResponse);
        ListPodSandboxStats => list_pod_sandbox_stats(ListPodSandboxStatsRequest, ListPodSandboxStatsResponse);
        UpdateRuntimeConfig => update_runtime_config(UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse);
        Status => status(StatusRequest, StatusResponse);
        CheckpointContainer => checkpoint_container(CheckpointContainerRequest, CheckpointContainerResponse);
        ListMetricDescriptors => list_metric_descriptors(ListMetricDescriptorsRequest, ListMetricDescriptorsResponse);
        ListPodSandboxMetrics => list_pod_sandbox_metrics(ListPodSandboxMetricsRequest, ListPodSandboxMetricsResponse);
        RuntimeConfig => runtime_config(RuntimeConfigRequest, RuntimeConfigResponse);
    }
}

/// `rpc`, if `RuntimeService` has an RPC of that name.
fn known_rpc(rpc: &str) -> &str {
    assert!(
        RPCS.contains(&rpc),
        "fake-cri: RuntimeService has no RPC {rpc:?}"
    );
    rpc
}

/// A server task and the switch that stops what it started.
struct Serving {
    stopped: watch::Sender<bool>,
    task: JoinHandle<()>,
}

fn serve(socket: &Path, shared: Arc<Shared>) -> io::Result<Serving> {
    let listener = UnixListener::bind(socket)?;
    let (stopped, stop_signal) = watch::channel(false);
    let runtime = Runtime {
        shared: shared.clone(),
        stopped: stop_signal.clone(),
    };
    let service = Faulty {
        inner: RuntimeServiceServer::new(CriService(runtime)),
        shared,
        stopped: stop_signal.clone(),
    };
    let task = tokio::spawn(async move {
        let served = Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                UnixListenerStream::new(listener),
                until_stopped(stop_signal),
            )
            .await;
        if let Err(e) = served {
            eprintln!("fake-cri: serving failed: {e}");
        }
    });
    Ok(Serving { stopped, task })
}

/// The generated server behind the fault layer: counts every request, then answers as
/// the fault in effect for its RPC says. Garbage travels to [`Runtime`] as a request
/// extension.
#[derive(Clone)]
struct Faulty {
    inner: RuntimeServiceServer<CriService>,
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
}

impl NamedService for Faulty {
    const NAME: &'static str = <RuntimeServiceServer<CriService> as NamedService>::NAME;
}

impl Service<http::Request<Body>> for Faulty {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let rpc = request.uri().path().rsplit('/').next().unwrap_or_default();
        let fault = self.shared.arrived(rpc);
        if let Fault::Garbage(garbage) = fault {
            request.extensions_mut().insert(garbage);
        }
        let answer = self.inner.clone().oneshot(request);
        let stopped = self.stopped.clone();
        Box::pin(async move {
            match fault {
                Fault::None | Fault::Garbage(_) => answer.await,
                Fault::Delay(delay) => tokio::select! {
                    _ = tokio::time::sleep(delay) => answer.await,
                    _ = until_stopped(stopped) => Ok(stopped_answer()),
                },
                Fault::Status(code) => {
                    Ok(Status::new(code, "fake-cri: injected fault").into_http())
                }
                Fault::WireGarbage => Ok(wire_garbage()),
                Fault::Hang => {
                    until_stopped(stopped).await;
                    Ok(stopped_answer())
                }
            }
        })
    }
}

/// Returns once the server is stopped (or its switch is gone).
async fn until_stopped(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stopped| *stopped).await;
}

/// What a delayed or hanging request answers when the server stops.
fn stopped_answer() -> http::Response<Body> {
    Status::unavailable("fake-cri: stopped").into_http()
}

/// The bytes of [`Fault::WireGarbage`]'s message: a field key of wire type 7, which no
/// protobuf message has, followed by text.
const WIRE_GARBAGE: &[u8] = b"\x07fake-cri: this is no protobuf";

/// A gRPC answer whose single frame holds [`WIRE_GARBAGE`]. It carries no trailers: the
/// tests crate reaches no `http_body` type that has them. Clients fail on the frame
/// before they would miss the trailers.
fn wire_garbage() -> http::Response<Body> {
    let length = u32::try_from(WIRE_GARBAGE.len()).expect("a short constant");
    let mut frame = vec![0]; // not compressed
    frame.extend(length.to_be_bytes());
    frame.extend(WIRE_GARBAGE);
    // `String` is the one byte body within reach; frame and length are ASCII.
    let frame = String::from_utf8(frame).expect("an ASCII frame");
    http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .body(Body::new(frame))
        .expect("a valid response")
}
