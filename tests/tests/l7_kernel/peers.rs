//! The `l7` tests' parts: the HTTP peer processes (`kotel-test-http`) and the source
//! running in this process, with the spans of one server picked out of everything the
//! machine does.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kotel::config::ComponentId;
use kotel::event::{Event, HttpEvent, HttpSide};
use kotel::sources::l7::{L7Source, L7SourceConfig};
use kotel_integration_tests::running_source::RunningSource;
use kotel_integration_tests::support;

/// The helper binary.
const HTTP: &str = env!("CARGO_BIN_EXE_kotel-test-http");

/// One test at a time: the counters are process-wide.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// A counter of this process's telemetry, summed over the series with `labels`.
pub fn counter(name: &str, labels: &[(&str, &str)]) -> f64 {
    kotel::telemetry::snapshot().counter_sum(name, labels)
}

/// The helper's server, killed on drop.
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Server {
    /// Starts a server and reads its port.
    pub fn start() -> Self {
        let mut child = Command::new(HTTP)
            .arg("server")
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting kotel-test-http server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("its port");
        let port = line.trim().parse().expect("a port");
        Self { child, port }
    }

    /// Runs the helper's `mode` against this server to completion.
    pub fn run(&self, mode: &str, args: &[&str]) {
        let out = Command::new(HTTP)
            .arg(mode)
            .arg(self.port.to_string())
            .args(args)
            .output()
            .expect("running kotel-test-http");
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("done"),
            "kotel-test-http {mode} {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client connected before the source starts (`kotel-test-http late`), which sends its
/// requests when told to.
pub struct Early {
    child: Child,
}

impl Early {
    /// Connects to `server` and waits until the connection is established.
    pub fn connect(server: &Server, paths: &[&str]) -> Self {
        let mut child = Command::new(HTTP)
            .arg("late")
            .arg(server.port.to_string())
            .args(paths)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting kotel-test-http late");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).expect("its first line");
        assert_eq!(line.trim(), "connected");
        child.stdout = Some(out.into_inner());
        Self { child }
    }

    /// Sends the requests and waits for every response.
    pub fn go(mut self) {
        let mut stdin = self.child.stdin.take().unwrap();
        stdin.write_all(b"go\n").expect("telling it to go");
        drop(stdin);
        let out = self.child.wait_with_output().expect("kotel-test-http late");
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("done"),
            "kotel-test-http late: {}",
            out.status
        );
    }
}

/// The source, started and seen working.
pub struct Source {
    running: Option<RunningSource>,
}

/// Whether `e` is an exchange with `port`'s server, on either side.
fn of_server(e: &HttpEvent, port: u16) -> bool {
    match e.side {
        HttpSide::Server => e.local_port == port,
        HttpSide::Client => e.peer_port == port,
    }
}

impl Source {
    /// Starts the source with `config` and waits until a request to `server` gives its
    /// spans (the programs are attached).
    pub fn start(config: L7SourceConfig, server: &Server) -> Self {
        let id: ComponentId = "l7".parse().unwrap();
        let source = L7Source::new(&id, &config);
        let mut this = Self {
            running: Some(RunningSource::start("l7", Box::new(source))),
        };
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            server.run("client", &["/warm-up"]);
            let spans = this.collect(server, 2, Duration::from_millis(500));
            if spans.iter().any(|e| e.path == "/warm-up") {
                // Whatever of the warm-up is still on its way.
                this.collect(server, usize::MAX, Duration::from_millis(300));
                return this;
            }
            assert!(Instant::now() < end, "the l7 source never saw a request");
        }
    }

    fn collect(&mut self, server: &Server, n: usize, wait: Duration) -> Vec<HttpEvent> {
        let running = self.running.as_mut().unwrap();
        let mut spans = Vec::new();
        let end = Instant::now() + wait;
        while spans.len() < n {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                break;
            };
            running.receive(left.min(Duration::from_millis(100)), |event| {
                if let Event::Http(e) = event {
                    if of_server(&e, server.port) {
                        spans.push(e);
                    }
                }
            });
        }
        spans
    }

    /// The next `n` spans of `server` (both sides), waiting at most `wait`, and then
    /// 200 ms more to catch any extra one; panics unless exactly `n` came.
    pub fn spans_until(&mut self, server: &Server, n: usize, wait: Duration) -> Vec<HttpEvent> {
        let mut spans = self.collect(server, n, wait);
        spans.extend(self.collect(server, usize::MAX, Duration::from_millis(200)));
        assert_eq!(
            spans.len(),
            n,
            "spans of port {}: {:#?}",
            server.port,
            spans
                .iter()
                .map(|e| (e.side, e.path.as_str(), e.status, e.failure))
                .collect::<Vec<_>>()
        );
        spans
    }

    /// Stops the source (it must return `Ok`).
    pub fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop(|_| {});
        }
    }
}

/// The spans of `side`, by start time.
pub fn side(spans: &[HttpEvent], side: HttpSide) -> Vec<HttpEvent> {
    let mut out: Vec<HttpEvent> = spans.iter().filter(|e| e.side == side).cloned().collect();
    out.sort_by_key(|e| e.start_time_unix_nano);
    out
}
