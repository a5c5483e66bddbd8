//! The fake CRI server as a plain CRI client sees it: healthy answers, and every fault
//! observable. Unprivileged and fast.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerEventType, ContainerFilter, ContainerState, ContainerStateValue,
    ContainerStatusRequest, ContainerStatusResponse, ExecSyncRequest, GetEventsRequest,
    ListContainersRequest, ListPodSandboxRequest, PodSandboxStatusRequest, VersionRequest,
};
use kotel_integration_tests::fake_cri::{
    hex_id, FakeContainer, FakeCri, Fault, Garbage, ABSURD_TIMESTAMP, HUGE_VALUE_LEN,
};
use tonic::transport::{Channel, Endpoint, Uri};
use tonic::Code;

type Client = RuntimeServiceClient<Channel>;

/// A fresh directory for one test's socket, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("fake-cri-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the temp dir");
        TempDir(dir)
    }

    fn socket(&self) -> PathBuf {
        self.0.join("cri.sock")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A client over the unix socket; every RPC fails after `timeout`.
async fn connect(socket: &Path, timeout: Duration) -> Client {
    let path = socket.to_path_buf();
    let connector = tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move {
            let stream = tokio::net::UnixStream::connect(path).await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    let channel = Endpoint::from_static("http://[::]:50051")
        .timeout(timeout)
        .connect_with_connector(connector)
        .await
        .expect("connecting to the fake");
    RuntimeServiceClient::new(channel)
}

/// A fake with two running containers of pod `web` and one exited of pod `db`, and a
/// client with a 5 s timeout.
async fn fake(dir: &TempDir) -> (FakeCri, Client) {
    let cri = FakeCri::start(&dir.socket()).expect("starting the fake");
    let mut app = FakeContainer::new("app", "web");
    app.pid = 4242;
    let sidecar = FakeContainer::new("sidecar", "web");
    let mut db = FakeContainer::new("db", "db");
    db.state = ContainerState::ContainerExited;
    cri.set_containers(vec![app, sidecar, db]);
    let client = connect(&dir.socket(), Duration::from_secs(5)).await;
    (cri, client)
}

fn id(container: &str, pod: &str) -> String {
    hex_id(&format!("{pod}/{container}"))
}

async fn status(client: &mut Client, id: &str) -> Result<ContainerStatusResponse, tonic::Status> {
    let request = ContainerStatusRequest {
        container_id: id.to_string(),
        verbose: true,
    };
    client
        .container_status(request)
        .await
        .map(|r| r.into_inner())
}

async fn info(client: &mut Client, id: &str) -> String {
    let mut answer = status(client, id).await.expect("ContainerStatus");
    answer.info.remove("info").expect("verbose info")
}

async fn info_json(client: &mut Client, id: &str) -> serde_json::Value {
    serde_json::from_str(&info(client, id).await).expect("info is JSON")
}

async fn listed_ids(client: &mut Client) -> Vec<String> {
    let listed = client
        .list_containers(ListContainersRequest::default())
        .await;
    let containers = listed.expect("ListContainers").into_inner().containers;
    containers.into_iter().map(|c| c.id).collect()
}

#[tokio::test]
async fn healthy_answers_look_like_containerd() {
    let dir = TempDir::new("healthy");
    let (cri, mut client) = fake(&dir).await;
    let app = &cri.containers()[0];

    let version = client.version(VersionRequest::default()).await.unwrap();
    assert_eq!(version.into_inner().runtime_name, "fake-cri");

    assert_eq!(
        listed_ids(&mut client).await,
        [id("app", "web"), id("sidecar", "web"), id("db", "db")]
    );

    let answer = status(&mut client, &app.id).await.unwrap();
    let info: serde_json::Value = serde_json::from_str(&answer.info["info"]).unwrap();
    assert_eq!(info["pid"], 4242);
    assert_eq!(info["sandboxID"], app.pod_sandbox_id.as_str());
    assert_eq!(
        info["runtimeSpec"]["linux"]["cgroupsPath"],
        app.cgroups_path.as_str()
    );
    let reported = answer.status.unwrap();
    assert_eq!(reported.labels["io.kubernetes.pod.name"], "web");
    assert_eq!(reported.labels["io.kubernetes.pod.namespace"], "default");
    assert_eq!(reported.labels["io.kubernetes.pod.uid"], app.pod_uid);
    assert_eq!(reported.labels["io.kubernetes.container.name"], "app");
    assert_eq!(
        reported.annotations["io.kubernetes.cri.sandbox-name"],
        "web"
    );
    assert_eq!(
        reported.annotations["io.kubernetes.cri.sandbox-namespace"],
        "default"
    );
    assert_eq!(
        reported.annotations["io.kubernetes.cri.sandbox-uid"],
        app.pod_uid
    );
    assert_eq!(
        reported.annotations["io.kubernetes.cri.container-name"],
        "app"
    );
    assert_eq!(
        reported.annotations["io.kubernetes.cri.image-name"],
        app.image
    );

    let not_verbose = ContainerStatusRequest {
        container_id: app.id.clone(),
        verbose: false,
    };
    let answer = client
        .container_status(not_verbose)
        .await
        .unwrap()
        .into_inner();
    assert!(answer.info.is_empty());

    let unknown = status(&mut client, &hex_id("nobody")).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn list_filters_by_id_and_state() {
    let dir = TempDir::new("filters");
    let (_cri, mut client) = fake(&dir).await;
    let by_id = ListContainersRequest {
        filter: Some(ContainerFilter {
            id: id("sidecar", "web"),
            ..Default::default()
        }),
    };
    let listed = client.list_containers(by_id).await.unwrap().into_inner();
    assert_eq!(listed.containers.len(), 1);
    assert_eq!(listed.containers[0].id, id("sidecar", "web"));

    let exited = ListContainersRequest {
        filter: Some(ContainerFilter {
            state: Some(ContainerStateValue {
                state: ContainerState::ContainerExited as i32,
            }),
            ..Default::default()
        }),
    };
    let listed = client.list_containers(exited).await.unwrap().into_inner();
    let ids: Vec<_> = listed.containers.into_iter().map(|c| c.id).collect();
    assert_eq!(ids, [id("db", "db")]);
}

#[tokio::test]
async fn sandboxes_follow_the_containers() {
    let dir = TempDir::new("sandboxes");
    let (cri, mut client) = fake(&dir).await;
    let listed = client
        .list_pod_sandbox(ListPodSandboxRequest::default())
        .await;
    let items = listed.unwrap().into_inner().items;
    let names: Vec<_> = items
        .iter()
        .map(|s| s.metadata.clone().unwrap().name)
        .collect();
    assert_eq!(names, ["web", "db"]);

    let web = &cri.containers()[0];
    let request = PodSandboxStatusRequest {
        pod_sandbox_id: web.pod_sandbox_id.clone(),
        verbose: false,
    };
    let answer = client
        .pod_sandbox_status(request)
        .await
        .unwrap()
        .into_inner();
    let metadata = answer.status.unwrap().metadata.unwrap();
    assert_eq!(
        (metadata.name, metadata.uid),
        ("web".to_string(), web.pod_uid.clone())
    );
}

#[tokio::test]
async fn the_state_changes_while_serving() {
    let dir = TempDir::new("changes");
    let (cri, mut client) = fake(&dir).await;
    let gone = cri.remove_container(&id("sidecar", "web")).unwrap();
    assert_eq!(gone.name, "sidecar");
    cri.add_container(FakeContainer::new("late", "web"));
    assert_eq!(
        listed_ids(&mut client).await,
        [id("app", "web"), id("db", "db"), id("late", "web")]
    );
    let answer = status(&mut client, &gone.id).await.unwrap_err();
    assert_eq!(answer.code(), Code::NotFound);
}

#[tokio::test]
async fn delay_slows_only_its_rpc() {
    let dir = TempDir::new("delay");
    let (cri, mut client) = fake(&dir).await;
    let delay = Duration::from_millis(300);
    cri.set_fault("Version", Fault::Delay(delay));

    let start = Instant::now();
    client.version(VersionRequest::default()).await.unwrap();
    assert!(
        start.elapsed() >= delay,
        "answered after {:?}",
        start.elapsed()
    );

    let start = Instant::now();
    listed_ids(&mut client).await;
    assert!(
        start.elapsed() < delay,
        "answered after {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn status_faults_reach_the_client_and_are_counted() {
    let dir = TempDir::new("status");
    let (cri, mut client) = fake(&dir).await;
    cri.set_fault("ListContainers", Fault::Status(Code::Unavailable));
    for _ in 0..3 {
        let listed = client
            .list_containers(ListContainersRequest::default())
            .await;
        assert_eq!(listed.unwrap_err().code(), Code::Unavailable);
    }
    assert_eq!(cri.calls("ListContainers"), 3);
    assert_eq!(cri.calls("ContainerStatus"), 0);

    cri.set_fault("ListContainers", Fault::None);
    assert_eq!(listed_ids(&mut client).await.len(), 3);
    assert_eq!(cri.calls("ListContainers"), 4);
}

#[tokio::test]
async fn a_fault_for_all_yields_to_a_fault_of_its_own() {
    let dir = TempDir::new("all");
    let (cri, mut client) = fake(&dir).await;
    cri.set_fault_all(Fault::Status(Code::PermissionDenied));
    cri.set_fault("Version", Fault::None);
    assert!(client.version(VersionRequest::default()).await.is_ok());
    let listed = client
        .list_containers(ListContainersRequest::default())
        .await;
    assert_eq!(listed.unwrap_err().code(), Code::PermissionDenied);

    cri.clear_faults();
    assert_eq!(listed_ids(&mut client).await.len(), 3);
}

#[tokio::test]
async fn wire_garbage_fails_to_decode() {
    let dir = TempDir::new("wire");
    let (cri, mut client) = fake(&dir).await;
    let app = id("app", "web");
    cri.set_fault("ContainerStatus", Fault::WireGarbage);
    let failed = status(&mut client, &app).await.unwrap_err();
    assert_eq!(failed.code(), Code::Internal, "{failed:?}");
    assert!(failed.message().contains("decode"), "{failed:?}");

    // The connection survives it.
    cri.set_fault("ContainerStatus", Fault::None);
    assert!(status(&mut client, &app).await.is_ok());
}

#[tokio::test]
async fn wire_garbage_breaks_an_event_stream() {
    let dir = TempDir::new("wire-events");
    let (cri, mut client) = fake(&dir).await;
    cri.set_events(true);
    cri.set_fault("GetContainerEvents", Fault::WireGarbage);
    let mut events = client
        .get_container_events(GetEventsRequest {})
        .await
        .unwrap()
        .into_inner();
    let failed = events.message().await.unwrap_err();
    assert_eq!(failed.code(), Code::Internal, "{failed:?}");
}

#[tokio::test]
async fn hang_runs_into_the_client_timeout() {
    let dir = TempDir::new("hang");
    let (cri, _) = fake(&dir).await;
    let timeout = Duration::from_millis(200);
    let mut client = connect(&dir.socket(), timeout).await;
    cri.set_fault("ListContainers", Fault::Hang);

    let start = Instant::now();
    let listed = client
        .list_containers(ListContainersRequest::default())
        .await;
    let elapsed = start.elapsed();
    // tonic's client-side timeout reports itself as Cancelled.
    assert_eq!(listed.unwrap_err().code(), Code::Cancelled);
    assert!(
        elapsed >= timeout && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert_eq!(cri.calls("ListContainers"), 1);

    // Other RPCs still answer.
    assert!(client.version(VersionRequest::default()).await.is_ok());
}

#[tokio::test]
async fn stopping_ends_hanging_requests() {
    let dir = TempDir::new("hang-stop");
    let (mut cri, mut client) = fake(&dir).await;
    cri.set_fault_all(Fault::Hang);
    let hanging = tokio::spawn(async move { client.version(VersionRequest::default()).await });
    while cri.calls("Version") == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cri.stop();
    assert!(!dir.socket().exists());
    let answer = tokio::time::timeout(Duration::from_secs(2), hanging).await;
    assert!(answer.expect("the request still hangs").unwrap().is_err());
}

#[tokio::test]
async fn a_restarted_fake_keeps_its_state() {
    let dir = TempDir::new("restart");
    let (mut cri, mut client) = fake(&dir).await;
    assert_eq!(listed_ids(&mut client).await.len(), 3);
    cri.restart().unwrap();
    // The old connection is gone: the channel reconnects on a later call.
    let mut answered = None;
    for _ in 0..50 {
        if let Ok(listed) = client
            .list_containers(ListContainersRequest::default())
            .await
        {
            answered = Some(listed.into_inner().containers.len());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(answered, Some(3));
    assert!(cri.calls("ListContainers") >= 2);
}

#[tokio::test]
async fn unimplemented_rpcs_say_so() {
    let dir = TempDir::new("unimplemented");
    let (cri, mut client) = fake(&dir).await;
    let exec = client
        .exec_sync(ExecSyncRequest::default())
        .await
        .unwrap_err();
    assert_eq!(exec.code(), Code::Unimplemented);
    assert_eq!(cri.calls("ExecSync"), 1);

    // Events are off by default, as in containerd 1.6.
    let events = client
        .get_container_events(GetEventsRequest {})
        .await
        .unwrap_err();
    assert_eq!(events.code(), Code::Unimplemented);
}

#[tokio::test]
#[should_panic(expected = "no RPC")]
async fn a_misspelt_rpc_is_refused() {
    let dir = TempDir::new("misspelt");
    let cri = FakeCri::start(&dir.socket()).unwrap();
    cri.set_fault("ContainerStatuses", Fault::Hang);
}

#[tokio::test]
async fn events_announce_additions_and_removals() {
    let dir = TempDir::new("events");
    let (cri, mut client) = fake(&dir).await;
    cri.set_events(true);
    let mut events = client
        .get_container_events(GetEventsRequest {})
        .await
        .unwrap()
        .into_inner();

    let late = FakeContainer::new("late", "web");
    cri.add_container(late.clone());
    cri.remove_container(&late.id);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let event = events.message().await.unwrap().expect("an event");
        assert_eq!(event.container_id, late.id);
        assert_eq!(event.containers_statuses[0].id, late.id);
        seen.push(event.container_event_type);
    }
    let expected = [
        ContainerEventType::ContainerCreatedEvent,
        ContainerEventType::ContainerStartedEvent,
        ContainerEventType::ContainerStoppedEvent,
        ContainerEventType::ContainerDeletedEvent,
    ];
    assert_eq!(seen, expected.map(|kind| kind as i32));
}

#[tokio::test]
async fn garbage_in_the_verbose_info() {
    let dir = TempDir::new("garbage-info");
    let (cri, mut client) = fake(&dir).await;
    let app = id("app", "web");
    let garbage = |g| Fault::Garbage(g);

    cri.set_fault("ContainerStatus", garbage(Garbage::InfoNotJson));
    let text = info(&mut client, &app).await;
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );

    cri.set_fault("ContainerStatus", garbage(Garbage::InfoMissingFields));
    let json = info_json(&mut client, &app).await;
    assert!(
        json.get("pid").is_none() && json.get("runtimeSpec").is_none(),
        "{json}"
    );

    cri.set_fault("ContainerStatus", garbage(Garbage::PidAsString));
    assert_eq!(info_json(&mut client, &app).await["pid"], "4242");

    for path in ["/", "/system.slice", "/../.."] {
        cri.set_fault("ContainerStatus", garbage(Garbage::CgroupsPath(path)));
        let json = info_json(&mut client, &app).await;
        assert_eq!(json["runtimeSpec"]["linux"]["cgroupsPath"], path);
    }

    cri.set_fault("ContainerStatus", garbage(Garbage::SharedCgroupsPath));
    let first = info_json(&mut client, &app).await;
    let second = info_json(&mut client, &id("sidecar", "web")).await;
    let path = |json: &serde_json::Value| json["runtimeSpec"]["linux"]["cgroupsPath"].clone();
    assert_eq!(path(&first), path(&second));

    cri.set_fault("ContainerStatus", garbage(Garbage::MissingMessages));
    assert!(status(&mut client, &app).await.unwrap().status.is_none());

    // Garbage for one RPC leaves the others healthy.
    assert_eq!(listed_ids(&mut client).await[0], app);
}

#[tokio::test]
async fn garbage_in_the_container_list() {
    let dir = TempDir::new("garbage-list");
    let (cri, mut client) = fake(&dir).await;
    let set = |g| cri.set_fault("ListContainers", Fault::Garbage(g));

    set(Garbage::EmptyIds);
    assert!(listed_ids(&mut client).await.iter().all(String::is_empty));

    set(Garbage::MalformedIds);
    let ids = listed_ids(&mut client).await;
    assert!(ids
        .iter()
        .all(|id| id.len() != 64 || !id.chars().all(|c| c.is_ascii_hexdigit())));

    set(Garbage::DuplicateIds);
    assert_eq!(listed_ids(&mut client).await, vec![id("app", "web"); 3]);

    set(Garbage::AbsurdTimestamps);
    let listed = client
        .list_containers(ListContainersRequest::default())
        .await
        .unwrap();
    assert!(listed
        .into_inner()
        .containers
        .iter()
        .all(|c| c.created_at == ABSURD_TIMESTAMP));

    set(Garbage::HugeLabels);
    let listed = client
        .list_containers(ListContainersRequest::default())
        .await;
    let pod_names: Vec<_> = (listed.unwrap().into_inner().containers.iter())
        .map(|c| c.labels["io.kubernetes.pod.name"].len())
        .collect();
    assert_eq!(pod_names, [HUGE_VALUE_LEN, "web".len(), "db".len()]);

    set(Garbage::MissingMessages);
    let listed = client
        .list_containers(ListContainersRequest::default())
        .await
        .unwrap();
    assert!(listed
        .into_inner()
        .containers
        .iter()
        .all(|c| c.metadata.is_none()));
}
