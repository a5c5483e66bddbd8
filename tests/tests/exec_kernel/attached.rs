//! A real `exec` source attached for a test: started on its own runtime, fed by warm-up
//! execs until it is known to be attached, collecting the exec events it emits.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kotel::config::ComponentId;
use kotel::event::{Event, ExecEvent};
use kotel::sources::exec::{ExecSource, ExecSourceConfig, HookChoice};

/// The component id the tests build the source with (the `source` label of its metrics).
const SOURCE: &str = "exec";
use kotel::telemetry::names;
use kotel_integration_tests::running_source::RunningSource;
use kotel_integration_tests::support;

/// Both kernel hooks, for tests whose events must not depend on the hook.
pub const HOOKS: [HookChoice; 2] = [HookChoice::TpBtf, HookChoice::Tracepoint];

/// Holds the lock that serialises the root tests of this binary (and cgroup moves).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The default config with `hook`.
pub fn with_hook(hook: HookChoice) -> ExecSourceConfig {
    ExecSourceConfig {
        hook,
        ..ExecSourceConfig::default()
    }
}

/// The sum of a self-telemetry counter's series with `labels`.
pub fn counter(name: &str, labels: &[(&str, &str)]) -> f64 {
    kotel::telemetry::snapshot().counter_sum(name, labels)
}

/// No ring-buffer losses or undecodable records so far in this process.
pub fn assert_clean_telemetry() {
    assert_eq!(counter(names::RINGBUF_LOST, &[("source", SOURCE)]), 0.0);
    assert_eq!(counter(names::DECODE_ERRORS, &[("source", SOURCE)]), 0.0);
}

/// A marker argument no other exec on the machine carries: `kotel-exec-<pid>-<tag>-<n>`.
pub fn marker(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("kotel-exec-{}-{tag}-{n}", std::process::id())
}

/// Runs `program args..` to completion; returns the child's pid.
pub fn run(program: &str, args: &[&str]) -> u32 {
    wait(Command::new(program).args(args), program, args)
}

/// [`run`] with the child's real and effective uid (and gid) set to `uid`.
pub fn run_as(uid: u32, program: &str, args: &[&str]) -> u32 {
    wait(
        Command::new(program).args(args).uid(uid).gid(uid),
        program,
        args,
    )
}

fn wait(command: &mut Command, program: &str, args: &[&str]) -> u32 {
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {program}: {e}"));
    let pid = child.id();
    let status = child.wait().expect("waiting for the child");
    assert!(status.success(), "{program} {args:?}: {status}");
    pid
}

/// The attached source and every exec event received so far.
pub struct Attached {
    source: RunningSource,
    /// Every exec event received so far.
    pub seen: Vec<ExecEvent>,
}

impl Attached {
    /// Starts the source with `config` (a short batch timeout is set) and execs
    /// `/bin/true <marker>` until one is reported.
    pub fn start(config: ExecSourceConfig) -> Self {
        let config = ExecSourceConfig {
            batch_timeout: Duration::from_millis(50),
            ..config
        };
        let id: ComponentId = "exec".parse().unwrap();
        let mut attached = Self {
            source: RunningSource::start("exec", Box::new(ExecSource::new(&id, &config))),
            seen: Vec::new(),
        };
        for _ in 0..100 {
            let m = marker("warmup");
            run("/bin/true", &[&m]);
            attached.receive(Duration::from_millis(200));
            if attached.find(&m).is_some() {
                return attached;
            }
        }
        panic!("no event from the exec source after 100 warm-up execs (is it attached?)");
    }

    /// The event whose argv contains `marker`, if received.
    pub fn find(&self, marker: &str) -> Option<&ExecEvent> {
        self.seen
            .iter()
            .find(|e| e.args.iter().any(|a| a == marker))
    }

    /// Collects until an event carrying `marker` arrives (10 s at most) and returns it.
    pub fn wait_for(&mut self, marker: &str) -> ExecEvent {
        self.wait_until(marker, |e| e.args.iter().any(|a| a == marker))
    }

    /// Collects until an event matching `wanted` arrives (10 s at most) and returns it;
    /// panics naming `what` otherwise.
    pub fn wait_until(&mut self, what: &str, wanted: impl Fn(&ExecEvent) -> bool) -> ExecEvent {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.seen.iter().any(&wanted) && Instant::now() < deadline {
            self.receive(Duration::from_millis(100));
        }
        self.seen
            .iter()
            .find(|e| wanted(e))
            .cloned()
            .unwrap_or_else(|| panic!("no exec event for {what}"))
    }

    /// Stops the source and checks that it returned `Ok` within 5 s; returns every event.
    pub fn stop(mut self) -> Vec<ExecEvent> {
        self.receive(Duration::from_millis(100));
        let seen = &mut self.seen;
        self.source.stop(|e| seen.extend(exec(e)));
        self.seen
    }

    /// Collects batches for up to `wait`; panics if the source stopped.
    fn receive(&mut self, wait: Duration) {
        let seen = &mut self.seen;
        self.source.receive(wait, |e| seen.extend(exec(e)));
    }
}

fn exec(event: Event) -> Option<ExecEvent> {
    match event {
        Event::Exec(x) => Some(x),
        _ => None,
    }
}

/// A directory of this test run under /tmp, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `/tmp/kotel-exec-<pid>-<tag>`.
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kotel-exec-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
