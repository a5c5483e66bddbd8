//! What the instances of one `k8s_cri` processor share: its config, the snapshot the CRI
//! task publishes, the request queue to that task and the metrics. The CRI task runs for
//! as long as the service lives and ends when the last instance drops it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::mpsc;

use crate::event::{keys, Workload};
use crate::node::cgroups::CgroupRoots;
use crate::processors::k8s_cri::births::{Birth, BirthWatch, BornCgroups};
use crate::processors::k8s_cri::catalog::{SharedSnapshot, Snapshot};
use crate::processors::k8s_cri::config::K8sCriConfig;
use crate::processors::k8s_cri::cri::watcher::Watcher;
use crate::processors::k8s_cri::metrics::CriMetrics;
use crate::processors::k8s_cri::request::Request;
use crate::settings::ComponentId;

/// Room in the request queue from the event path to the CRI task.
const REQUEST_QUEUE: usize = 1024;

/// The live services of one component factory, by processor id: the instances of one id
/// and config (in several pipelines, or across a reload that keeps its config) share one
/// CRI connection and cache for as long as any of them lives.
#[derive(Default)]
pub struct LiveServices(Mutex<HashMap<ComponentId, (K8sCriConfig, Weak<CriService>)>>);

impl LiveServices {
    /// The live service of processor `id` with `config`, or a new one.
    pub fn get_or_start(&self, id: &ComponentId, config: &K8sCriConfig) -> Arc<CriService> {
        let mut services = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let live = services
            .get(id)
            .filter(|(running, _)| running == config)
            .and_then(|(_, service)| service.upgrade());
        if let Some(service) = live {
            return service;
        }
        let service = CriService::start(&id.to_string(), config);
        services.insert(id.clone(), (config.clone(), Arc::downgrade(&service)));
        service
    }
}

/// One `k8s_cri` processor id's shared state.
pub struct CriService {
    config: K8sCriConfig,
    roots: CgroupRoots,
    snapshot: Arc<SharedSnapshot>,
    requests: mpsc::Sender<Request>,
    host: Arc<Workload>,
    metrics: CriMetrics,
    /// Container cgroups seen as they were created, when the watch runs.
    born: Option<Arc<BornCgroups>>,
    /// Reports container cgroups as they are created; stops with the service.
    _births: Option<BirthWatch>,
}

impl CriService {
    /// Starts the service of processor `component` and spawns its CRI task on the current
    /// tokio runtime. Without a runtime (a synchronous tool), nothing is spawned and every
    /// event gets host attributes.
    pub fn start(component: &str, config: &K8sCriConfig) -> Arc<CriService> {
        let roots = cgroup_roots(config);
        let node_name = config.resolved_node_name();
        let metrics = CriMetrics::new(component);
        let snapshot = Arc::new(SharedSnapshot::default());
        let (requests, queue) = mpsc::channel(REQUEST_QUEUE);
        let watcher = Watcher::new(
            config.clone(),
            node_name.clone(),
            roots.clone(),
            Arc::clone(&snapshot),
            metrics.clone(),
        );
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(watcher.run(queue));
            }
            Err(_) => tracing::error!(
                component,
                "no async runtime: the CRI task cannot run; events get host attributes only"
            ),
        }
        let born = Arc::new(BornCgroups::default());
        let births = config
            .watch_cgroups
            .then(|| watch_births(&roots, &requests, &metrics, &born))
            .flatten();
        tracing::info!(component, node = %node_name, layout = ?roots.layout(), "k8s_cri started");
        Arc::new(CriService {
            config: config.clone(),
            roots,
            snapshot,
            requests,
            host: Arc::new(Workload::from_pairs([(keys::NODE_NAME, node_name)])),
            metrics,
            born: births.is_some().then_some(born),
            _births: births,
        })
    }

    /// The processor's config.
    pub fn config(&self) -> &K8sCriConfig {
        &self.config
    }

    /// Where the cgroup hierarchies are.
    pub fn roots(&self) -> &CgroupRoots {
        &self.roots
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.current()
    }

    /// The queue to the CRI task.
    pub fn requests(&self) -> &mpsc::Sender<Request> {
        &self.requests
    }

    /// The attributes of host processes (and of events nothing could be proved about).
    pub fn host(&self) -> &Arc<Workload> {
        &self.host
    }

    /// Container cgroups born while watched; `None` when the watch could not run (then
    /// an event whose process is gone waits for a resync instead).
    pub fn born(&self) -> Option<&Arc<BornCgroups>> {
        self.born.as_ref()
    }

    /// The processor's metrics.
    pub fn metrics(&self) -> &CriMetrics {
        &self.metrics
    }
}

/// The configured unified root, else the mounts in `/proc/self/mountinfo`.
fn cgroup_roots(config: &K8sCriConfig) -> CgroupRoots {
    if !config.cgroup_root.as_os_str().is_empty() {
        return CgroupRoots::with_unified(&config.cgroup_root);
    }
    CgroupRoots::discover().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read /proc/self/mountinfo; cgroup ids cannot be mapped, only pids");
        CgroupRoots::default()
    })
}

/// Starts the inotify watch of container cgroups (unified hierarchy only); each birth
/// goes to the CRI task as a proved cgroup id.
fn watch_births(
    roots: &CgroupRoots,
    requests: &mpsc::Sender<Request>,
    metrics: &CriMetrics,
    born: &Arc<BornCgroups>,
) -> Option<BirthWatch> {
    let root = roots.unified.as_ref()?.mount_point.clone();
    let requests = requests.clone();
    let dropped = metrics.requests_dropped.clone();
    let born = Arc::clone(born);
    let report = move |birth: Birth| {
        born.insert(&birth);
        let request = Request::Learned {
            container_id: birth.container_id,
            cgroup_id: birth.cgroup_id,
        };
        if requests.try_send(request).is_err() {
            dropped.increment(1);
        }
    };
    BirthWatch::start(root, report)
        .map_err(|e| tracing::warn!(error = %e, "cannot watch container cgroups; very short-lived containers may go unattributed"))
        .ok()
}
