//! What every test here stands on: a fake host in a temporary directory (a unified cgroup
//! hierarchy of real directories under `cg/`, `proc/<pid>/cgroup` files), a fake CRI
//! runtime on a socket in it, the real `k8s_cri` processor configured to look there, and
//! helpers to build events, read the processor's metrics and poll for an outcome.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kotel::component::{Processor, Release};
use kotel::event::{keys, Event};
use kotel::processors::k8s_cri::{CriService, K8sCriConfig, K8sCriProcessor};
use kotel::telemetry::names;
use kotel_integration_tests::events::tcp_connect;
use kotel_integration_tests::fake_cri::{FakeContainer, FakeCri};

/// `k8s.node.name` of every rig.
pub const NODE: &str = "node-t";
/// How often a poll looks again.
pub const POLL: Duration = Duration::from_millis(20);
/// The longest any one outcome is waited for.
pub const WAIT: Duration = Duration::from_secs(10);
/// The longest one `process` or `release` call may take: far below the call timeout.
pub const FAST: Duration = Duration::from_millis(50);

/// One test's fake host and runtime. The directory goes when the rig does.
pub struct Rig {
    dir: PathBuf,
    /// The runtime.
    pub fake: FakeCri,
    /// The processor's config; change it before [`Rig::start`].
    pub config: K8sCriConfig,
    /// The processor's component id (unique per test: metrics are process-wide).
    pub component: String,
}

/// A container: what the fake runtime says of it and its cgroup id.
pub struct Container {
    pub spec: FakeContainer,
    pub cgroup: u64,
}

impl Container {
    pub fn id(&self) -> &str {
        &self.spec.id
    }
}

impl Rig {
    /// A fake host and a serving runtime without containers; must run in a Tokio runtime.
    pub fn new(test: &str) -> Rig {
        kotel::telemetry::install();
        let dir = std::env::temp_dir().join(format!("kotel-cri-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["cg", "proc"] {
            std::fs::create_dir_all(dir.join(sub)).expect("creating the fake host");
        }
        let socket = dir.join("cri.sock");
        let fake = FakeCri::start(&socket).expect("starting the fake runtime");
        let config = K8sCriConfig {
            endpoint: format!("unix://{}", socket.display()),
            host_root: dir.clone(),
            cgroup_root: dir.join("cg"),
            node_name: NODE.into(),
            call_timeout: Duration::from_millis(200),
            resync_interval: Duration::from_secs(1),
            hold: Duration::from_millis(300),
            // The runtime's answers alone: the cgroup birth watch would map the rig's
            // correctly named directories by itself (the containerd tests cover it).
            watch_cgroups: false,
            ..K8sCriConfig::default()
        };
        Rig {
            dir,
            fake,
            config,
            component: format!("k8s_cri/faults-{test}"),
        }
    }

    /// Starts the processor's service (and its CRI task) with the current config.
    pub fn start(&self) -> K8sCriProcessor {
        assert!(
            self.config.validate().is_empty(),
            "{:?}",
            self.config.validate()
        );
        K8sCriProcessor::new(CriService::start(&self.component, &self.config))
    }

    /// Creates the cgroup directory `path` (`/` is the hierarchy's root) and returns its id.
    pub fn cgroup(&self, path: &str) -> u64 {
        let dir = self.cgroup_dir(path);
        std::fs::create_dir_all(&dir).expect("creating a cgroup directory");
        std::fs::metadata(&dir).expect("a cgroup directory").ino()
    }

    /// Where cgroup `path` is on the fake host.
    pub fn cgroup_dir(&self, path: &str) -> PathBuf {
        self.dir.join("cg").join(path.trim_start_matches('/'))
    }

    /// A running container with its cgroup directory, which the runtime does not know
    /// (yet): [`FakeCri::add_container`] it.
    pub fn unknown(&self, name: &str, pod: &str) -> Container {
        let spec = FakeContainer::new(name, pod);
        let cgroup = self.cgroup(&spec.cgroups_path);
        Container { spec, cgroup }
    }

    /// A running container with its cgroup directory, known to the runtime.
    pub fn known(&self, name: &str, pod: &str) -> Container {
        let container = self.unknown(name, pod);
        self.fake.add_container(container.spec.clone());
        container
    }

    /// A live process `pid` whose unified cgroup is `path`.
    pub fn process(&self, pid: u32, path: &str) {
        let dir = self.dir.join("proc").join(pid.to_string());
        std::fs::create_dir_all(&dir).expect("creating a fake /proc entry");
        std::fs::write(dir.join("cgroup"), format!("0::{path}\n")).expect("writing its cgroup");
    }

    /// The sum of counter `name` of this rig's processor over the series with `labels`.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut all = vec![(names::COMPONENT_ID, self.component.as_str())];
        all.extend_from_slice(labels);
        kotel::telemetry::snapshot().counter_sum(name, &all)
    }

    /// Gauge `name` of this rig's processor (0 before it is ever set).
    pub fn gauge(&self, name: &str) -> f64 {
        let snapshot = kotel::telemetry::snapshot();
        let ours = |labels: &[(String, String)]| {
            labels
                .iter()
                .any(|(k, v)| k == names::COMPONENT_ID && *v == self.component)
        };
        snapshot
            .gauges
            .iter()
            .find(|g| g.name == name && ours(&g.labels))
            .map_or(0.0, |g| g.value)
    }

    /// CRI calls with this outcome (`ok`, `error`, `timeout`, `unimplemented`), any RPC.
    pub fn calls(&self, outcome: &str) -> f64 {
        self.counter(names::K8S_CRI_CALLS, &[("outcome", outcome)])
    }

    /// CRI calls of `rpc` with this outcome.
    pub fn rpc_calls(&self, rpc: &str, outcome: &str) -> f64 {
        self.counter(names::K8S_CRI_CALLS, &[("rpc", rpc), ("outcome", outcome)])
    }

    /// Runtime answers refused for `reason`.
    pub fn rejected(&self, reason: &str) -> f64 {
        self.counter(names::K8S_CRI_REJECTED, &[(names::REASON, reason)])
    }

    /// Events that left the hold with this outcome.
    pub fn held(&self, outcome: &str) -> f64 {
        self.counter(names::K8S_CRI_HOLD, &[("outcome", outcome)])
    }

    /// Lookups with this result (`hit`, `host`, `pending`, `miss`, `no_cgroup`).
    pub fn lookups(&self, result: &str) -> f64 {
        self.counter(names::K8S_CRI_LOOKUPS, &[("result", result)])
    }

    /// Connection attempts with this outcome (`ok`, `no_socket`, `error`).
    pub fn connects(&self, outcome: &str) -> f64 {
        self.counter(names::K8S_CRI_CONNECTS, &[("outcome", outcome)])
    }

    /// 1 while the CRI task is connected.
    pub fn connected(&self) -> f64 {
        self.gauge(names::K8S_CRI_CONNECTED)
    }

    /// Containers in the CRI task's cache.
    pub fn cached(&self) -> f64 {
        self.gauge(names::K8S_CRI_CACHE_CONTAINERS)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Marks events so that they can be told apart after a hold.
static NEXT_MARK: AtomicU64 = AtomicU64::new(1);

/// A TCP connect from cgroup `cgroup_id` by process `pid` (0: no process to look at),
/// unattributed, with a mark of its own ([`mark`]).
pub fn tcp(cgroup_id: u64, pid: u32) -> Event {
    let mark = NEXT_MARK.fetch_add(1, Ordering::Relaxed);
    Event::Tcp(tcp_connect(cgroup_id, pid, mark))
}

/// The mark [`tcp`] gave the event.
pub fn mark(event: &Event) -> u64 {
    match event {
        Event::Tcp(e) => e.sock_id,
        other => panic!("not a test event: {other:?}"),
    }
}

/// The event's attributes; panics when no processor attributed it.
pub fn attributes(event: &Event) -> BTreeMap<String, String> {
    event
        .workload()
        .unwrap_or_else(|| panic!("event {} left unattributed", mark(event)))
        .attributes
        .clone()
}

/// The container the event is attributed to, if any.
pub fn container_of(event: &Event) -> Option<String> {
    attributes(event).get(keys::CONTAINER_ID).cloned()
}

/// Asserts that `event` carries the node's attributes and nothing else.
pub fn assert_host(event: &Event, what: &str) {
    let expected = BTreeMap::from([(keys::NODE_NAME.to_string(), NODE.to_string())]);
    assert_eq!(attributes(event), expected, "{what}");
}

/// Asserts that `event` is attributed to `container`, or to nothing.
pub fn assert_container_or_host(event: &Event, container: &Container, what: &str) {
    match container_of(event) {
        None => assert_host(event, what),
        Some(id) => assert_eq!(
            id,
            container.id(),
            "{what}: attributed to another container"
        ),
    }
}

/// Processes one event that must not be held and returns it.
pub fn one(processor: &mut K8sCriProcessor, event: Event) -> Event {
    let sent = mark(&event);
    let mut out = processor.process(vec![event]);
    assert_eq!(out.len(), 1, "event {sent} was held or dropped");
    let event = out.pop().expect("one event");
    assert_eq!(mark(&event), sent);
    event
}

/// Processes `batch` and releases what is due, each call timed against [`FAST`];
/// returns everything that came out.
pub fn fast_run(processor: &mut K8sCriProcessor, batch: Vec<Event>) -> Vec<Event> {
    let started = Instant::now();
    let mut out = processor.process(batch);
    let took = started.elapsed();
    assert!(took < FAST, "process() took {took:?}");
    let started = Instant::now();
    out.extend(processor.release(Release::Due(Instant::now())));
    let took = started.elapsed();
    assert!(took < FAST, "release() took {took:?}");
    out
}

/// Polls `check` every [`POLL`] until it gives a value; panics after `limit`.
pub async fn until<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Sends events of `container`'s cgroup (no process to look at) until one comes out
/// attributed to it; any other container on them fails the test. Held events released
/// meanwhile are looked at too.
pub async fn until_attributed(
    processor: &mut K8sCriProcessor,
    container: &Container,
    limit: Duration,
) -> Event {
    let what = format!(
        "attributing {}/{}",
        container.spec.pod_name, container.spec.name
    );
    until(&what, limit, || {
        let mut out = processor.process(vec![tcp(container.cgroup, 0)]);
        out.extend(processor.release(Release::Due(Instant::now())));
        let mut found = None;
        for event in out {
            if event.origin().map(|o| o.cgroup_id) == Some(container.cgroup) {
                assert_container_or_host(&event, container, &what);
            }
            if container_of(&event).as_deref() == Some(container.id()) {
                found.get_or_insert(event);
            }
        }
        found
    })
    .await
}

/// Sends one event from each cgroup and asserts that none comes out attributed.
pub fn assert_all_host(processor: &mut K8sCriProcessor, cgroups: &[u64], what: &str) {
    for cgroup in cgroups {
        assert_host(&one(processor, tcp(*cgroup, 0)), what);
    }
}
