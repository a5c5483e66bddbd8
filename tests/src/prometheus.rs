//! A real Prometheus (Debian's 2.42, installed by `scripts/setup-receivers.sh`) scraping
//! one target, for tests of a Prometheus scrape endpoint; queried over its HTTP API.
//!
//! Contract: [`Prometheus::start`] writes `prometheus.yml` (one job, `kotel`, scraping
//! `http://TARGET/metrics` every `scrape_interval`), keeps its TSDB in `dir/data` and its
//! output in `dir/prometheus.out`, listens on a free 127.0.0.1 port, and returns once
//! `/-/ready` answers 200 (about 0.1 s). The first scrape comes only 5 to 7 s later:
//! Prometheus hands discovered targets to its scrape manager on a fixed 5 s tick (no flag
//! changes that in 2.42), then waits a per-target offset within the interval. Allow 15 s
//! or more for the first sample. Dropping a [`Prometheus`] kills the process; the
//! directory is the caller's to remove.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::local_server::{self, POLL};

/// The Debian package's binary; `PROMETHEUS` overrides.
pub const DEFAULT_BINARY: &str = "/usr/bin/prometheus";
/// The job name of the one scrape config.
pub const JOB: &str = "kotel";

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The Prometheus binary the tests run.
pub fn binary() -> PathBuf {
    std::env::var_os("PROMETHEUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BINARY))
}

/// Ok when Prometheus is installed; the error says what is missing, for a `SKIPPED` line.
pub fn available() -> Result<(), String> {
    let prometheus = binary();
    if prometheus.is_file() {
        Ok(())
    } else {
        Err(format!(
            "no {}; run scripts/setup-receivers.sh as root",
            prometheus.display()
        ))
    }
}

/// One active scrape target as `/api/v1/targets` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub scrape_url: String,
    /// `up`, `down` or `unknown` (not scraped yet).
    pub health: String,
    pub last_error: String,
}

/// A running Prometheus; see the module doc.
pub struct Prometheus {
    dir: PathBuf,
    port: u16,
    child: Child,
}

impl Prometheus {
    /// Starts Prometheus scraping `scrape_target` (`host:port`, path `/metrics`) every
    /// `scrape_interval` (also the scrape timeout). Errors carry the output's tail.
    pub fn start(dir: &Path, scrape_target: &str, scrape_interval: Duration) -> io::Result<Self> {
        Self::start_with(dir, scrape_target, scrape_interval, &[])
    }

    /// [`Prometheus::start`] with extra command-line flags (e.g.
    /// `--enable-feature=native-histograms`, which makes it ask for the protobuf format and
    /// store native histograms).
    pub fn start_with(
        dir: &Path,
        scrape_target: &str,
        scrape_interval: Duration,
        flags: &[&str],
    ) -> io::Result<Self> {
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_yaml(scrape_target, scrape_interval))?;
        let output = dir.join("prometheus.out");
        local_server::start_with_fresh_ports(1, |ports| {
            let port = ports[0];
            let mut command = Command::new(binary());
            command
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--log.level=warn")
                .args(flags);
            let child = local_server::spawn_serving(&mut command, &output, &[port], READY_TIMEOUT)?;
            // From here on, dropping it on an error kills the process.
            let prometheus = Prometheus {
                dir: dir.to_path_buf(),
                port,
                child,
            };
            prometheus.wait_ready()?;
            Ok(prometheus)
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The last few kilobytes of Prometheus's output (warnings and errors only).
    pub fn output_tail(&self) -> String {
        local_server::tail(&self.dir.join("prometheus.out"), 4096)
    }

    /// An instant query (`/api/v1/query`, evaluated now): the response's `data` member,
    /// `{"resultType": .., "result": ..}`. An error status (a bad query) is an
    /// `InvalidInput` error carrying Prometheus's message.
    pub fn query(&self, promql: &str) -> io::Result<Value> {
        let (status, body) =
            self.get(&format!("/api/v1/query?query={}", percent_encode(promql)))?;
        let mut response: Value = serde_json::from_str(&body)
            .map_err(|e| io::Error::other(format!("{status}, not JSON ({e}): {body}")))?;
        if response["status"] != "success" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("query {promql:?}: {status}: {}", response["error"]),
            ));
        }
        Ok(response["data"].take())
    }

    /// The value of the first series (or the scalar) an instant query returns; None when
    /// it returns nothing or fails.
    pub fn series_value(&self, promql: &str) -> Option<f64> {
        let data = self.query(promql).ok()?;
        let sample = match data["resultType"].as_str()? {
            "vector" => data["result"].get(0)?["value"].clone(),
            "scalar" => data["result"].clone(),
            _ => return None,
        };
        sample.get(1)?.as_str()?.parse().ok()
    }

    /// Waits until `promql` returns a value and returns it; on timeout the error names
    /// the targets' health and Prometheus's output.
    pub fn wait_for(&self, promql: &str, timeout: Duration) -> Result<f64, String> {
        self.wait_for_value(promql, timeout, |_| true)
    }

    /// Waits until `promql` returns a value satisfying `accept` and returns it.
    pub fn wait_for_value(
        &self,
        promql: &str,
        timeout: Duration,
        accept: impl Fn(f64) -> bool,
    ) -> Result<f64, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.series_value(promql);
            if let Some(v) = value.filter(|v| accept(*v)) {
                return Ok(v);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{promql:?} gave {value:?} after {timeout:?}; targets: {:?}; output:\n{}",
                    self.targets(),
                    self.output_tail()
                ));
            }
            thread::sleep(POLL * 5);
        }
    }

    /// The exemplars stored for the series `promql` selects over the last `window`
    /// (`/api/v1/query_exemplars`; needs `--enable-feature=exemplar-storage`): each
    /// exemplar's labels (`trace_id`, `span_id`, ...) and value.
    pub fn exemplars(
        &self,
        promql: &str,
        window: Duration,
    ) -> io::Result<Vec<(BTreeMap<String, String>, f64)>> {
        let end = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let start = end.saturating_sub(window.as_secs());
        let (status, body) = self.get(&format!(
            "/api/v1/query_exemplars?query={}&start={start}&end={}",
            percent_encode(promql),
            end + 1
        ))?;
        let response: Value = serde_json::from_str(&body)
            .map_err(|e| io::Error::other(format!("{status}, not JSON ({e}): {body}")))?;
        if response["status"] != "success" {
            return Err(io::Error::other(format!("{status}: {body}")));
        }
        let mut out = Vec::new();
        for series in response["data"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            for e in series["exemplars"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let labels = e["labels"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let value = e["value"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN);
                out.push((labels, value));
            }
        }
        Ok(out)
    }

    /// The active scrape targets (`/api/v1/targets`).
    pub fn targets(&self) -> io::Result<Vec<Target>> {
        let (_, body) = self.get("/api/v1/targets?state=active")?;
        let response: Value = serde_json::from_str(&body)
            .map_err(|e| io::Error::other(format!("not JSON ({e}): {body}")))?;
        let text = |t: &Value, key: &str| t[key].as_str().unwrap_or_default().to_string();
        Ok(response["data"]["activeTargets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|t| Target {
                scrape_url: text(t, "scrapeUrl"),
                health: text(t, "health"),
                last_error: text(t, "lastError"),
            })
            .collect())
    }

    /// True when there is an active target and every one was up at its last scrape.
    pub fn targets_up(&self) -> bool {
        matches!(self.targets(), Ok(t) if !t.is_empty() && t.iter().all(|t| t.health == "up"))
    }

    /// Waits until `/-/ready` answers 200 (503 while the TSDB opens).
    fn wait_ready(&self) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let answer = self.get("/-/ready");
            if matches!(answer, Ok((200, _))) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("not ready: {answer:?}; output:\n{}", self.output_tail()),
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// A GET over HTTP/1.0 (so the body is neither chunked nor kept alive): the status
    /// code and the body.
    fn get(&self, path_and_query: &str) -> io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(local_server::loopback(self.port))?;
        stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
        stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
        write!(
            stream,
            "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| io::Error::other(format!("no HTTP response: {response}")))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no HTTP status: {head}")))?;
        Ok((status, body.to_string()))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration: one job scraping one target, evaluation at the scrape interval.
fn config_yaml(target: &str, interval: Duration) -> String {
    let interval = format!("{}ms", interval.as_millis().max(1));
    format!(
        "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  \
         evaluation_interval: {interval}\nscrape_configs:\n  - job_name: {JOB}\n    \
         metrics_path: /metrics\n    static_configs:\n      - targets: ['{target}']\n"
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("rate(x_total{a=\"b c\"}[1m])"),
            "rate%28x_total%7Ba%3D%22b%20c%22%7D%5B1m%5D%29"
        );
        assert_eq!(percent_encode("up"), "up");
    }

    #[test]
    fn the_config_scrapes_one_target() {
        let yaml = config_yaml("127.0.0.1:9999", Duration::from_millis(1500));
        assert!(yaml.contains("scrape_interval: 1500ms\n"), "{yaml}");
        assert!(yaml.contains("scrape_timeout: 1500ms\n"), "{yaml}");
        assert!(yaml.contains("- targets: ['127.0.0.1:9999']\n"), "{yaml}");
        assert!(yaml.contains("metrics_path: /metrics\n"), "{yaml}");
    }
}
