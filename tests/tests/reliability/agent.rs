//! The real `kotel` binary run on a pipeline file the test writes, watched from outside:
//! its log, its resident memory, its self-telemetry on the Prometheus endpoint, and how
//! it ends (SIGTERM with the time it took, or SIGKILL).

use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use kotel_integration_tests::agent_process::{
    agent_command, sigterm_and_wait, start_attached, try_scrape, Lines,
};
use kotel_integration_tests::KillOnDrop;

/// A running agent; killed (SIGKILL) on drop if still running.
pub struct RunningAgent {
    child: KillOnDrop,
    /// Its stderr (the agent's own log), read as it comes.
    pub log: Lines,
    /// The port of its Prometheus endpoint (0 when the pipeline has none).
    pub prometheus: u16,
}

impl RunningAgent {
    /// Writes `yaml` to `dir/pipeline.yaml`, starts `kotel run` on it and returns once the
    /// log says the tcp source is attached and (when `prometheus` is not 0) the endpoint
    /// on that port answers; panics with the log after 30 s.
    pub fn start(dir: &Path, yaml: &str, prometheus: u16) -> RunningAgent {
        let file = dir.join("pipeline.yaml");
        std::fs::write(&file, yaml).unwrap();
        let (child, log) = start_attached(agent_command(&file));
        let agent = RunningAgent {
            child,
            log,
            prometheus,
        };
        if prometheus != 0 {
            let deadline = Instant::now() + Duration::from_secs(10);
            while try_scrape(prometheus).is_none() {
                assert!(Instant::now() < deadline, "no Prometheus endpoint");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        agent
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory (`VmRSS` in /proc/PID/status), in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid()).expect("the agent is running")
    }

    /// The agent's self-telemetry (and metrics) as its Prometheus endpoint shows them now.
    pub fn scrape(&self) -> Scrape {
        let text = try_scrape(self.prometheus).expect("the Prometheus endpoint answers");
        Scrape(text)
    }

    /// Sends SIGTERM and waits for the exit (panicking after `within`); returns the status
    /// and how long the agent took.
    pub fn sigterm(&mut self, within: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let status = sigterm_and_wait(&mut self.child, within);
        (status, started.elapsed())
    }

    /// SIGKILL, then reaps the process.
    pub fn sigkill(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping the agent")
    }

    /// Reads the log to its end (the process must have exited).
    pub fn drain_log(&mut self) -> String {
        self.log.drain().to_string()
    }
}

/// `VmRSS` of process `pid` in KiB; `None` once it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A Prometheus text exposition.
pub struct Scrape(pub String);

impl Scrape {
    /// Sum of the samples of `name` (exact sample name, e.g. `..._total`) whose labels
    /// include every pair of `labels`; 0 when there is none.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (sample, set) = series.split_once('{').unwrap_or((series, "}"));
                (sample == name).then_some(())?;
                let set = set.strip_suffix('}')?;
                let has =
                    |(k, v): &(&str, &str)| set.split(',').any(|p| p == format!("{k}=\"{v}\""));
                labels.iter().all(has).then(|| value.parse::<f64>().ok())?
            })
            .fold(0.0, |sum, v| sum + v)
    }
}
