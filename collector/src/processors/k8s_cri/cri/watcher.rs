//! The CRI task: finds the runtime, keeps the catalog current (full resyncs, the event
//! stream where the runtime has one, and on-demand lookups the event path asks for) and
//! publishes snapshots. It reconnects with backoff and jitter for as long as any
//! processor instance lives, and ends once every request sender is gone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_cri::v1::ContainerEventType;
use tokio::sync::mpsc;

use crate::component::backoff::jittered;
use crate::node::cgroups::{cgroup_id, CgroupRoots};
use crate::processors::k8s_cri::catalog::{Catalog, Housekeeping, SharedSnapshot};
use crate::processors::k8s_cri::config::K8sCriConfig;
use crate::processors::k8s_cri::cri::client::{CriClient, CriError};
use crate::processors::k8s_cri::cri::describe::{
    describe, info_sandbox_id, is_alive, is_container_id, DescribeContext,
};
use crate::processors::k8s_cri::cri::discovery::present_sockets;
use crate::processors::k8s_cri::metrics::CriMetrics;
use crate::processors::k8s_cri::request::Request;

/// First and largest wait between connection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(30));
/// How long a container the runtime could not describe is not asked about again.
const DESCRIBE_RETRY: Duration = Duration::from_millis(200);

/// The CRI task's state.
pub struct Watcher {
    config: K8sCriConfig,
    node_name: String,
    roots: CgroupRoots,
    catalog: Catalog,
    shared: Arc<SharedSnapshot>,
    metrics: CriMetrics,
    runtime: String,
    sandbox_labels: HashMap<String, HashMap<String, String>>,
    /// Containers recently asked about without success, and when.
    failed: HashMap<String, Instant>,
}

/// How a session with one runtime ended.
enum SessionEnd {
    /// Every processor is gone: stop.
    Closed,
    /// The runtime went away or misbehaved: reconnect.
    Lost(CriError),
}

impl Watcher {
    /// A watcher publishing into `shared`.
    pub fn new(
        config: K8sCriConfig,
        node_name: String,
        roots: CgroupRoots,
        shared: Arc<SharedSnapshot>,
        metrics: CriMetrics,
    ) -> Self {
        Self {
            catalog: Catalog::new(config.exited_grace, config.max_containers),
            config,
            node_name,
            roots,
            shared,
            metrics,
            runtime: String::new(),
            sandbox_labels: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    /// Runs until `requests` closes.
    pub async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut backoff = BACKOFF.0;
        let mut announced_absence = false;
        loop {
            match self.connect().await {
                Ok(Some(client)) => {
                    announced_absence = false;
                    backoff = BACKOFF.0;
                    self.metrics.connected(true);
                    let end = self.session(client, &mut requests).await;
                    self.metrics.connected(false);
                    match end {
                        SessionEnd::Closed => return,
                        SessionEnd::Lost(e) => {
                            tracing::warn!(component = %self.metrics.component(), error = %e, "lost the container runtime; keeping the cache and reconnecting")
                        }
                    }
                }
                Ok(None) => {
                    if !announced_absence {
                        tracing::warn!(component = %self.metrics.component(), "no container runtime socket found; events get host attributes until one appears");
                        announced_absence = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(component = %self.metrics.component(), error = %e, "cannot reach the container runtime; retrying")
                }
            }
            let wait = jittered(backoff);
            backoff = (backoff * 2).min(BACKOFF.1);
            if !self.wait_offline(wait, &mut requests).await {
                return;
            }
        }
    }

    /// Tries every present socket in order; `Ok(None)` when there is none.
    async fn connect(&mut self) -> Result<Option<CriClient>, CriError> {
        let sockets = present_sockets(&self.config);
        if sockets.is_empty() {
            self.metrics.connect("no_socket");
            return Ok(None);
        }
        let mut last_error = None;
        for socket in sockets {
            let attempt = async {
                let mut client =
                    CriClient::connect(&socket, self.config.call_timeout, self.metrics.component())
                        .await?;
                let version = client.version().await?;
                Ok::<_, CriError>((client, version))
            };
            match attempt.await {
                Ok((client, version)) => {
                    self.metrics.connect("ok");
                    tracing::info!(component = %self.metrics.component(), socket = %socket.display(), runtime = %version.runtime_name, version = %version.runtime_version, api = %version.runtime_api_version, "connected to the container runtime");
                    self.runtime = version.runtime_name;
                    return Ok(Some(client));
                }
                Err(e) => {
                    self.metrics.connect("error");
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.expect("at least one socket was tried"))
    }

    /// While disconnected: records learned cgroup ids for `wait`. False once `requests`
    /// closed.
    async fn wait_offline(
        &mut self,
        wait: Duration,
        requests: &mut mpsc::Receiver<Request>,
    ) -> bool {
        let until = tokio::time::Instant::now() + wait;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return true,
                request = requests.recv() => match request {
                    None => return false,
                    Some(Request::Learned { container_id, cgroup_id }) => {
                        self.catalog.learn_cgroup(&container_id, cgroup_id);
                        self.publish();
                    }
                    Some(Request::Describe(_) | Request::Resync) => {}
                },
            }
        }
    }

    /// Serves one connected runtime until it fails or every processor is gone.
    async fn session(
        &mut self,
        mut client: CriClient,
        requests: &mut mpsc::Receiver<Request>,
    ) -> SessionEnd {
        if let Err(e) = self.resync(&mut client).await {
            return SessionEnd::Lost(e);
        }
        let mut events = match client.container_events().await {
            Ok(stream) => stream,
            Err(e) if e.is_transport() => return SessionEnd::Lost(e),
            Err(_) => None,
        };
        // A runtime that had a stream gets it reopened at the next resync if it ends.
        let has_stream = events.is_some();
        if !has_stream {
            tracing::info!(component = %self.metrics.component(), interval = ?self.config.resync_interval, "the runtime has no container event stream; resyncing periodically");
        }
        let mut resync = tokio::time::interval(self.config.resync_interval);
        resync.tick().await;
        loop {
            let outcome = tokio::select! {
                _ = resync.tick() => {
                    if has_stream && events.is_none() {
                        events = client.container_events().await.ok().flatten();
                    }
                    self.resync(&mut client).await
                }
                request = requests.recv() => match request {
                    None => return SessionEnd::Closed,
                    Some(request) => self.serve(&mut client, request).await,
                },
                event = next_event(&mut events) => match event {
                    Some(Ok(event)) => self.on_event(&mut client, event).await,
                    ended => {
                        let error = ended.and_then(Result::err).map(|s| s.to_string());
                        tracing::warn!(component = %self.metrics.component(), error = ?error, "container event stream ended; reopening it at the next resync");
                        events = None;
                        Ok(())
                    }
                },
            };
            match outcome {
                Ok(()) => {}
                Err(e) if e.is_transport() => return SessionEnd::Lost(e),
                Err(e) => {
                    tracing::debug!(component = %self.metrics.component(), error = %e, "CRI call failed")
                }
            }
        }
    }

    /// Reads the whole container list; asks for the status of containers not settled.
    async fn resync(&mut self, client: &mut CriClient) -> Result<(), CriError> {
        let containers = client.list_containers().await?;
        if !self.config.pod_labels.is_empty() {
            self.refresh_sandboxes(client).await?;
        }
        let now = Instant::now();
        let mut listed = HashSet::new();
        let mut complete = true;
        for container in containers {
            if !is_container_id(&container.id) || listed.contains(&container.id) {
                self.metrics.rejected("container_id");
                complete = false;
                continue;
            }
            let alive = is_alive(container.state);
            listed.insert(container.id.clone());
            if self.catalog.is_settled(&container.id, alive) {
                continue;
            }
            match self.describe_one(client, &container.id).await {
                Err(e) if e.is_transport() => return Err(e),
                _ => {}
            }
        }
        if complete {
            self.catalog.keep_listed(&|id| listed.contains(id), now);
        } else {
            // A list with garbled entries cannot say which containers are gone.
            tracing::warn!(component = %self.metrics.component(), "the runtime's container list had invalid entries; not expiring containers from it");
        }
        self.publish();
        Ok(())
    }

    /// Reads every pod sandbox's labels (for `pod_labels`).
    async fn refresh_sandboxes(&mut self, client: &mut CriClient) -> Result<(), CriError> {
        self.sandbox_labels = client
            .list_pod_sandboxes()
            .await?
            .into_iter()
            .map(|s| (s.id, s.labels))
            .collect();
        Ok(())
    }

    async fn serve(&mut self, client: &mut CriClient, request: Request) -> Result<(), CriError> {
        match request {
            Request::Resync => self.resync(client).await?,
            Request::Describe(id) => {
                let recently_failed = self
                    .failed
                    .get(&id)
                    .is_some_and(|at| at.elapsed() < DESCRIBE_RETRY);
                if self.catalog.cgroup_id(&id).is_none() && !recently_failed {
                    self.describe_one(client, &id).await?;
                    self.publish();
                }
            }
            Request::Learned {
                container_id,
                cgroup_id,
            } => {
                if !self.catalog.learn_cgroup(&container_id, cgroup_id) {
                    self.describe_one(client, &container_id).await?;
                }
                self.publish();
            }
        }
        Ok(())
    }

    async fn on_event(
        &mut self,
        client: &mut CriClient,
        event: k8s_cri::v1::ContainerEventResponse,
    ) -> Result<(), CriError> {
        let id = event.container_id;
        match ContainerEventType::try_from(event.container_event_type) {
            Ok(ContainerEventType::ContainerDeletedEvent) => {
                self.catalog.mark_gone(&id, Instant::now());
            }
            _ if is_container_id(&id) => {
                self.describe_one(client, &id).await?;
            }
            _ => self.metrics.rejected("container_id"),
        }
        self.publish();
        Ok(())
    }

    /// Asks for one container's status and records it. Rejected answers are counted and
    /// leave the catalog unchanged.
    async fn describe_one(&mut self, client: &mut CriClient, id: &str) -> Result<(), CriError> {
        let answer = match client.container_status(id).await {
            Ok(answer) => answer,
            Err(e) => {
                self.failed.insert(id.to_string(), Instant::now());
                return Err(e);
            }
        };
        if !self.config.pod_labels.is_empty() {
            let sandbox = info_sandbox_id(&answer);
            if sandbox.is_some_and(|id| !self.sandbox_labels.contains_key(&id)) {
                // A pod newer than the last resync: its labels are needed now.
                self.refresh_sandboxes(client).await?;
            }
        }
        let ctx = DescribeContext {
            node_name: &self.node_name,
            runtime: &self.runtime,
            pod_labels: &self.config.pod_labels,
            sandbox_labels: &self.sandbox_labels,
        };
        match describe(&answer, &ctx) {
            Ok((description, flaws)) if description.id == id => {
                if flaws.info {
                    self.metrics.rejected("info");
                }
                if flaws.cgroups_path {
                    self.metrics.rejected("cgroups_path");
                }
                let cgroup = description
                    .cgroup_path
                    .as_deref()
                    .and_then(|path| self.resolve_cgroup(path));
                self.catalog.upsert(
                    id,
                    description.workload,
                    cgroup,
                    description.alive,
                    Instant::now(),
                );
                self.failed.remove(id);
            }
            Ok(_) => {
                self.metrics.rejected("container_id");
                self.failed.insert(id.to_string(), Instant::now());
            }
            Err(rejection) => {
                self.metrics.rejected(rejection.reason());
                self.failed.insert(id.to_string(), Instant::now());
            }
        }
        Ok(())
    }

    /// The cgroup v2 id of the container directory `path`, when the unified hierarchy
    /// has it.
    fn resolve_cgroup(&self, path: &str) -> Option<u64> {
        self.roots.unified.as_ref()?;
        let dir = self.roots.container_dirs(path).into_iter().next()?;
        cgroup_id(&dir).ok()
    }

    /// Expires old entries and publishes a fresh snapshot.
    fn publish(&mut self) {
        let now = Instant::now();
        self.failed
            .retain(|_, at| now.duration_since(*at) < DESCRIBE_RETRY);
        let expired = self.catalog.expire(now);
        let (snapshot, built) = self.catalog.snapshot();
        self.metrics.housekeeping(Housekeeping {
            evicted: expired.evicted,
            conflicts: built.conflicts,
        });
        self.metrics.cache_size(self.catalog.len());
        self.shared.publish(snapshot);
    }
}

/// The next container event, or never when there is no stream.
async fn next_event(
    events: &mut Option<tonic::Streaming<k8s_cri::v1::ContainerEventResponse>>,
) -> Option<Result<k8s_cri::v1::ContainerEventResponse, tonic::Status>> {
    match events {
        Some(stream) => stream.message().await.transpose(),
        None => std::future::pending().await,
    }
}
