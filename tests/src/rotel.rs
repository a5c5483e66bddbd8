//! A real OTLP receiver for export tests: rotel (PyPI `rotel`, installed with its
//! `rotel-agent` binary by `scripts/setup-receivers.sh`), run with the blackhole exporter
//! and its detailed debug log, which prints every data point and log record it receives;
//! [`debug_output`] parses that print-out back into structures.
//!
//! Contract: [`Rotel::start`] listens for OTLP/gRPC and OTLP/HTTP (protobuf and JSON, at
//! `/v1/metrics`, `/v1/logs`, `/v1/traces`) on two free ports of 127.0.0.1 and returns once
//! both accept connections (about 10 ms). Everything rotel prints goes to
//! `rotel.out` in the caller's directory, appended to across [`Rotel::start_again`], so
//! [`Rotel::metrics`] and [`Rotel::logs`] return everything received since the first
//! start, in arrival order (use [`Rotel::mark`] and [`Rotel::received_since`] for a part).
//! A request shows there as soon as rotel has decoded it (the debug log is written on
//! receipt, before its 200 ms batching), each request's print-out in one write. Dropping a
//! [`Rotel`] kills the process; the directory is the caller's to remove.

pub mod debug_output;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

pub use debug_output::{
    parse, AttributeKinds, Attributes, Exemplar, ExponentialBucket, ExponentialHistogramValue,
    HistogramValue, MetricKind, PointValue, Received, ReceivedLog, ReceivedMetric, ReceivedPoint,
    ReceivedSpan, Scope, Temporality, ValueKind,
};

use crate::local_server::{self, POLL};

/// The venv `scripts/setup-receivers.sh` makes (`KOTEL_TEST_VENV` overrides, as there).
pub const DEFAULT_VENV: &str = "/opt/kotel-test/venv";

const SETUP_HINT: &str = "run scripts/setup-receivers.sh as root";
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const STOP_GRACE: Duration = Duration::from_secs(5);

fn venv() -> PathBuf {
    std::env::var_os("KOTEL_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_VENV))
}

/// The rotel-agent binary the tests run: `ROTEL_AGENT`, or the venv's `bin/rotel-agent`
/// (a link the setup script makes to the binary inside the wheel's package directory).
pub fn binary() -> PathBuf {
    std::env::var_os("ROTEL_AGENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| venv().join("bin/rotel-agent"))
}

/// The venv's Python, which has the OpenTelemetry SDK and its OTLP exporters: a real
/// OTLP client for smoke tests.
pub fn venv_python() -> PathBuf {
    venv().join("bin/python")
}

/// Ok when rotel and the venv's Python are installed; the error says what is missing,
/// for a test's `SKIPPED` line.
pub fn available() -> Result<(), String> {
    let rotel = binary();
    if !rotel.is_file() {
        return Err(format!("no {}; {SETUP_HINT}", rotel.display()));
    }
    let python = venv_python();
    if !python.is_file() {
        return Err(format!("no {}; {SETUP_HINT}", python.display()));
    }
    Ok(())
}

/// A running (or stopped, see [`Rotel::stop`]) rotel; see the module doc.
pub struct Rotel {
    output: PathBuf,
    grpc_port: u16,
    http_port: u16,
    child: Option<Child>,
}

impl Rotel {
    /// Starts rotel on two free loopback ports with its output in `dir/rotel.out`.
    /// Errors carry the output's tail.
    pub fn start(dir: &Path) -> io::Result<Rotel> {
        let output = dir.join("rotel.out");
        local_server::start_with_fresh_ports(2, |ports| {
            let mut rotel = Rotel {
                output: output.clone(),
                grpc_port: ports[0],
                http_port: ports[1],
                child: None,
            };
            rotel.launch()?;
            Ok(rotel)
        })
    }

    /// Starts rotel again on the same ports after [`Rotel::stop`] (for outage tests);
    /// a no-op while it runs.
    pub fn start_again(&mut self) -> io::Result<()> {
        if self.is_running() {
            return Ok(());
        }
        self.launch()
    }

    /// Stops rotel (SIGTERM, SIGKILL after 5 s) and waits until its ports refuse
    /// connections. What it printed stays readable.
    pub fn stop(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            local_server::terminate(&mut child, STOP_GRACE)?;
        }
        local_server::wait_ports_closed(&[self.grpc_port, self.http_port], STOP_GRACE)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The OTLP/gRPC endpoint, `http://127.0.0.1:PORT`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// The OTLP/HTTP base endpoint, `http://127.0.0.1:PORT` (signals at `/v1/metrics`, ...).
    pub fn http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The file rotel prints to.
    pub fn output_path(&self) -> &Path {
        &self.output
    }

    /// Everything rotel printed so far (its own log lines included).
    pub fn output(&self) -> String {
        local_server::read_from(&self.output, 0)
    }

    /// The last few kilobytes of the output, for failure messages.
    pub fn output_tail(&self) -> String {
        local_server::tail(&self.output, 4096)
    }

    /// A position in the output: [`Rotel::received_since`] parses only what follows.
    pub fn mark(&self) -> u64 {
        local_server::len(&self.output)
    }

    /// Everything received so far.
    pub fn received(&self) -> Received {
        parse(&self.output())
    }

    /// Everything received after `mark` was taken.
    pub fn received_since(&self, mark: u64) -> Received {
        parse(&local_server::read_from(&self.output, mark))
    }

    /// Every metric received so far, one entry per metric per request.
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.received().metrics
    }

    /// Every log record received so far.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.received().logs
    }

    /// Every span received since the first start.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received().spans
    }

    /// Polls the output until `done` holds for what was received (after `mark`, 0 for
    /// all), returning it; on timeout the error names the metrics seen and the output's tail.
    pub fn wait_until(
        &self,
        mark: u64,
        timeout: Duration,
        mut done: impl FnMut(&Received) -> bool,
    ) -> Result<Received, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received_since(mark);
            if done(&received) {
                return Ok(received);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not received within {timeout:?}; metrics seen: {:?}, {} log records; \
                     output tail:\n{}",
                    received.metric_names(),
                    received.logs.len(),
                    self.output_tail()
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until metric `name` has been received and returns its latest instance.
    pub fn wait_for_metric(&self, name: &str, timeout: Duration) -> Result<ReceivedMetric, String> {
        let received = self.wait_until(0, timeout, |r| r.last_metric(name).is_some())?;
        Ok(received.last_metric(name).cloned().expect("checked"))
    }

    /// Waits until a log record satisfying `matches` has been received and returns the
    /// first such record.
    pub fn wait_for_log(
        &self,
        timeout: Duration,
        mut matches: impl FnMut(&ReceivedLog) -> bool,
    ) -> Result<ReceivedLog, String> {
        let received = self.wait_until(0, timeout, |r| r.logs.iter().any(&mut matches))?;
        Ok(received
            .logs
            .into_iter()
            .find(|l| matches(l))
            .expect("checked"))
    }

    fn launch(&mut self) -> io::Result<()> {
        let dir = self.output.parent().unwrap_or(Path::new("."));
        let mut command = Command::new(binary());
        command
            .arg("start")
            .arg("--otlp-grpc-endpoint")
            .arg(format!("127.0.0.1:{}", self.grpc_port))
            .arg("--otlp-http-endpoint")
            .arg(format!("127.0.0.1:{}", self.http_port))
            .args(["--exporter", "blackhole"])
            .args([
                "--debug-log",
                "metrics",
                "--debug-log",
                "logs",
                "--debug-log",
                "traces",
            ])
            .args(["--debug-log-verbosity", "detailed"])
            // Only used with --daemon, but their defaults are shared paths in /tmp.
            .arg("--pid-file")
            .arg(dir.join("rotel.pid"))
            .arg("--log-file")
            .arg(dir.join("rotel.log"));
        // rotel reads every flag from a ROTEL_* variable too: none may leak in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ROTEL_") {
                command.env_remove(key);
            }
        }
        let ports = [self.grpc_port, self.http_port];
        let child = local_server::spawn_serving(&mut command, &self.output, &ports, READY_TIMEOUT)?;
        self.child = Some(child);
        Ok(())
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
