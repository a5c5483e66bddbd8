//! Watching a `kotel` process a test started: its output lines as they come, its
//! Prometheus endpoint, and the kernel programs loaded on the machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{kotel_binary, KillOnDrop};

/// `kotel run --config <config>` at log level info, stdin and stdout discarded, stderr
/// piped for [`start_attached`]; callers add their environment.
pub fn agent_command(config: &Path) -> Command {
    let binary = kotel_binary();
    assert!(
        binary.exists(),
        "{} missing: run `cargo build` first (scripts/test.sh does)",
        binary.display()
    );
    let mut command = Command::new(binary);
    command
        .args(["run", "--config"])
        .arg(config)
        .env("KOTEL_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Spawns `command` (an [`agent_command`]) and returns the child with its followed stderr
/// once the log says the tcp source is attached; panics with the log after 30 s.
pub fn start_attached(mut command: Command) -> (KillOnDrop, Lines) {
    let mut child = KillOnDrop(command.spawn().expect("starting kotel"));
    let mut log = Lines::follow(child.stderr.take().expect("stderr piped"));
    log.wait_until(Duration::from_secs(30), |l| {
        l.contains("tcp source attached")
    })
    .unwrap_or_else(|l| panic!("the tcp source did not attach within 30 s:\n{l}"));
    (child, log)
}

/// The lines of one output pipe of a child, read by a thread of their own.
pub struct Lines {
    lines: mpsc::Receiver<String>,
    /// Everything read so far, newline-terminated.
    pub seen: String,
}

impl Lines {
    /// Starts reading `pipe` (a child's stdout or stderr) line by line.
    pub fn follow(pipe: impl Read + Send + 'static) -> Self {
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            lines,
            seen: String::new(),
        }
    }

    /// Reads lines until `done` holds for everything read so far; `Err` with the output
    /// when `timeout` passes first (or the pipe closes).
    pub fn wait_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                }
                Err(_) => return Err(self.seen.clone()),
            }
        }
        Ok(())
    }

    /// Reads every line left until the pipe closes (the child exited).
    pub fn drain(&mut self) -> &str {
        for line in self.lines.iter() {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        &self.seen
    }
}

/// `GET /metrics` on 127.0.0.1:`port`; `None` when nothing answers there.
pub fn try_scrape(port: u16) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    Some(body)
}

/// `GET /metrics` on 127.0.0.1:`port`, which must answer.
pub fn scrape(port: u16) -> String {
    try_scrape(port).unwrap_or_else(|| panic!("no Prometheus endpoint answers on port {port}"))
}

/// How many BPF programs whose name starts with `prefix` are loaded (`bpftool prog`).
pub fn bpf_programs_named(prefix: &str) -> usize {
    bpf_objects("prog")
        .iter()
        .filter(|(_, name)| name.starts_with(prefix))
        .count()
}

/// `(id, name)` of every loaded BPF program, map or link (`kind`: `prog`, `map`, `link`).
pub fn bpf_objects(kind: &str) -> Vec<(u32, String)> {
    bpftool_list(&[kind, "show"])
        .iter()
        .filter_map(|o| {
            let id = o["id"].as_u64()? as u32;
            Some((id, o["name"].as_str().unwrap_or_default().to_string()))
        })
        .collect()
}

/// The JSON array `bpftool <args> -j` prints; panics when bpftool fails or prints
/// something else, so a failing bpftool can never read as "nothing loaded". (`bpftool
/// cgroup show` prints nothing at all when nothing is attached: an empty list.)
pub fn bpftool_list(args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new("bpftool")
        .args(args)
        .arg("-j")
        .output()
        .expect("running bpftool (scripts/setup.sh installs it)");
    let what = format!("bpftool {}", args.join(" "));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Vec::new();
    }
    match serde_json::from_slice(&out.stdout) {
        Ok(serde_json::Value::Array(all)) => all,
        Ok(serde_json::Value::Null) => Vec::new(),
        other => panic!("{what} printed no JSON array: {other:?}"),
    }
}

/// How many programs named `prefix*` are loaded once that count is `want`, or after
/// `within` whatever it is then: the kernel frees a dead process's programs a few
/// milliseconds after it is reaped, not at once.
pub fn bpf_programs_settled(prefix: &str, want: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let now = bpf_programs_named(prefix);
        if now == want || Instant::now() >= deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGTERM to `child` and waits for it to exit; panics if it is still running after
/// `within` (the agent must stop promptly, not at its shutdown ceiling).
pub fn sigterm_and_wait(child: &mut Child, within: Duration) -> ExitStatus {
    // SAFETY: plain kill(2) on our own, unreaped child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for the agent") {
            return status;
        }
        assert!(
            started.elapsed() < within,
            "the agent did not exit within {within:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
