//! A `k8s_cri` service whose cache is full: the real CRI task, fed by the in-process
//! [`FakeCri`] with `n` containers whose cgroup directories exist under a scratch unified
//! root, for benchmarks and tests of the steady event path (every lookup a hit).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kotel::processors::k8s_cri::{CriService, K8sCriConfig};

use crate::fake_cri::{FakeContainer, FakeCri};

/// A started service and what it knows. Dropping it stops the fake runtime and the
/// Tokio runtime both run in (it must not be dropped inside an async context).
pub struct WarmCri {
    /// The service, its cache holding every container.
    pub service: Arc<CriService>,
    /// Its config (socket and cgroup root under the scratch directory).
    pub config: K8sCriConfig,
    /// The cgroup id of each container, in order (`app-<i>` of pod `pod-<i>`).
    pub cgroups: Vec<u64>,
    _fake: FakeCri,
    _runtime: tokio::runtime::Runtime,
}

impl WarmCri {
    /// Starts the fake runtime and the service under `scratch` (an empty directory) with
    /// `n` containers, each with an `app` pod label, and returns once the cache holds all
    /// of them. Both run on a Tokio runtime of their own (one worker thread), so the
    /// caller may drive the service's processors from any thread or runtime. Panics if
    /// the cache is not full within a minute.
    pub fn start(scratch: &Path, n: usize) -> WarmCri {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let guard = runtime.enter();
        let unified = scratch.join("cg");
        let fake = FakeCri::start(&scratch.join("cri.sock")).expect("fake CRI");
        let (containers, cgroups): (Vec<FakeContainer>, Vec<u64>) =
            (0..n).map(|i| container(&unified, i)).unzip();
        fake.set_containers(containers);
        let config = K8sCriConfig {
            endpoint: format!("unix://{}", fake.socket().display()),
            cgroup_root: unified,
            node_name: "bench-node".into(),
            resync_interval: Duration::from_secs(3600),
            ..K8sCriConfig::default()
        };
        let service = CriService::start("k8s_cri/warm", &config);
        drop(guard);
        let deadline = Instant::now() + Duration::from_secs(60);
        while service.snapshot().by_cgroup.len() < n {
            assert!(Instant::now() < deadline, "the k8s_cri cache never filled");
            std::thread::sleep(Duration::from_millis(20));
        }
        WarmCri {
            service,
            config,
            cgroups,
            _fake: fake,
            _runtime: runtime,
        }
    }
}

/// Fake container `app-<i>` of pod `pod-<i>` (pod label `app=app-<i>`), its cgroup
/// directory made under the unified root `unified`; and its cgroup id.
pub fn container(unified: &Path, i: usize) -> (FakeContainer, u64) {
    let mut c = FakeContainer::new(&format!("app-{i}"), &format!("pod-{i}"));
    c.labels.insert("app".into(), format!("app-{i}"));
    let dir = unified.join(c.cgroups_path.trim_start_matches('/'));
    std::fs::create_dir_all(&dir).expect("cgroup dir");
    let id = std::fs::metadata(&dir).expect("stat cgroup dir").ino();
    (c, id)
}
