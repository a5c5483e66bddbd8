//! A containerd of the tests' own, on its own socket and state directories.
//!
//! `scripts/setup-containerd.sh` installs containerd and runc and writes the two image
//! archives ([`IMAGES`]); [`Containerd::start`] derives a config from `containerd config
//! default`, runs containerd on a socket of the caller's choosing with all its state under
//! a directory of the caller's choosing, and imports the images into the `k8s.io`
//! namespace that CRI serves.
//!
//! Cleanup contract: dropping a [`Containerd`] removes every pod sandbox through CRI
//! (stopping and removing their containers, so their shims exit), stops containerd, then
//! kills whatever containerd shim still names this containerd's socket or directory, with
//! its container processes. It does not delete the directory: [`ScratchDir`] does that.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::kubelet::Kubelet;

/// Where `scripts/setup-containerd.sh` writes the image archives.
pub const IMAGES_DIR: &str = "/var/lib/kotel-test/images";
/// The sandbox (pause) image, set as the CRI `sandbox_image`.
pub const PAUSE_IMAGE: &str = "docker.io/kotel/pause:3.9";
/// A busybox image with `sh`, `sleep`, `nc`, `wget`, `echo`, `cat` and a few more in /bin.
pub const BUSYBOX_IMAGE: &str = "docker.io/kotel/busybox:1.36";
/// Each image's name and its archive in [`IMAGES_DIR`].
pub const IMAGES: [(&str, &str); 2] = [(PAUSE_IMAGE, "pause.tar"), (BUSYBOX_IMAGE, "busybox.tar")];

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const SETUP_HINT: &str = "run scripts/setup-containerd.sh as root";

/// Ok when this machine can run [`Containerd`]: the binaries and the image archives are
/// there. The error says what is missing, for a test's `SKIPPED` line.
pub fn containerd_available() -> Result<(), String> {
    for binary in ["containerd", "ctr", "runc", "containerd-shim-runc-v2"] {
        if find_in_path(binary).is_none() {
            return Err(format!("no `{binary}` on PATH; {SETUP_HINT}"));
        }
    }
    for (_, archive) in IMAGES {
        let path = Path::new(IMAGES_DIR).join(archive);
        if !path.is_file() {
            return Err(format!("no image archive {}; {SETUP_HINT}", path.display()));
        }
    }
    Ok(())
}

/// True when test `test` can run a containerd here (root, binaries, images); otherwise
/// prints the `SKIPPED` line saying why and returns false.
pub fn ready_or_skip(test: &str) -> bool {
    if !crate::is_root() {
        crate::skip(test, "running containerd needs root");
        return false;
    }
    if let Err(why) = containerd_available() {
        crate::skip(test, &why);
        return false;
    }
    true
}

/// A running containerd (see the module's cleanup contract).
pub struct Containerd {
    dir: PathBuf,
    socket: PathBuf,
    child: Option<Child>,
}

impl Containerd {
    /// Starts containerd with its config, root, state, CNI config directory and log
    /// (`containerd.log`, appended to across restarts) under `dir`, serving CRI on
    /// `socket` (ttrpc on `<socket>.ttrpc`). Returns once the CRI `Version` RPC answers and
    /// both [`IMAGES`] are in the CRI image store; errors carry the log's tail.
    pub fn start(dir: &Path, socket: &Path) -> io::Result<Self> {
        let mut containerd = Containerd {
            dir: dir.to_path_buf(),
            socket: socket.to_path_buf(),
            child: None,
        };
        containerd.launch()?;
        Ok(containerd)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory CRI loads CNI network configs from (empty: hostNetwork pods only).
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.dir.join("net.d")
    }

    /// The last few kilobytes of containerd's log.
    pub fn log_tail(&self) -> String {
        tail(&self.log_path(), 4096)
    }

    /// Stops containerd (SIGTERM, SIGKILL after 10 s) and waits until it is gone and its
    /// socket with it. Containers keep running under their shims, as with a real restart.
    pub fn stop(&mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // SAFETY: kill has no memory-safety preconditions; the pid is our own child's.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                child.kill()?;
                child.wait()?;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for path in [self.socket.clone(), self.ttrpc_socket()] {
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Stops containerd and starts it again on the same directory and socket: pods and
    /// containers survive, as they do when a node's containerd restarts.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop()?;
        self.launch()
    }

    /// The pids of containerd shims (and so of pods) that belong to this containerd: those
    /// whose command line names its socket or a path inside its directory.
    pub fn shim_pids(&self) -> Vec<u32> {
        let ours = |arg: &str| {
            let arg = Path::new(arg);
            arg == self.socket || arg.starts_with(&self.dir)
        };
        processes()
            .into_iter()
            .filter(|p| {
                p.cmdline
                    .first()
                    .is_some_and(|c| c.contains("containerd-shim"))
            })
            .filter(|p| p.cmdline.iter().any(|a| ours(a)))
            .map(|p| p.pid)
            .collect()
    }

    fn launch(&mut self) -> io::Result<()> {
        fs::create_dir_all(self.cni_conf_dir())?;
        let config = self.dir.join("config.toml");
        fs::write(&config, self.config()?)?;
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let ready = self.wait_ready().and_then(|()| self.import_images());
        ready.map_err(|e| {
            let _ = self.stop();
            io::Error::other(format!("{e}\n--- containerd.log ---\n{}", self.log_tail()))
        })
    }

    /// `containerd config default` with this instance's paths and the settings this
    /// machine needs.
    fn config(&self) -> io::Result<String> {
        let output = Command::new("containerd")
            .args(["config", "default"])
            .output()?;
        if !output.status.success() {
            let err = String::from_utf8_lossy(&output.stderr);
            return Err(io::Error::other(format!(
                "containerd config default: {err}"
            )));
        }
        let mut config = String::from_utf8_lossy(&output.stdout).into_owned();
        let quoted = |path: PathBuf| format!("{:?}", path.to_string_lossy());
        let cri = "plugins.\"io.containerd.grpc.v1.cri\"";
        let settings = [
            ("", "root", quoted(self.dir.join("root"))),
            ("", "state", quoted(self.dir.join("state"))),
            // Snapshotters this machine lacks: skipping them only adds noise and delay.
            ("", "disabled_plugins", DISABLED_PLUGINS.to_string()),
            ("grpc", "address", quoted(self.socket.clone())),
            ("ttrpc", "address", quoted(self.ttrpc_socket())),
            (cri, "sandbox_image", format!("{PAUSE_IMAGE:?}")),
            // Without it every sandbox fails here: the test's process may not lower its
            // own oom_score_adj (no CAP_SYS_RESOURCE).
            (cri, "restrict_oom_score_adj", "true".to_string()),
            // Network namespaces of non-host pods under our state, not /var/run/netns.
            (cri, "netns_mounts_under_state_dir", "true".to_string()),
            (
                &format!("{cri}.cni"),
                "bin_dir",
                "\"/usr/lib/cni\"".to_string(),
            ),
            (
                &format!("{cri}.cni"),
                "conf_dir",
                quoted(self.cni_conf_dir()),
            ),
            (
                &format!("{cri}.containerd.runtimes.runc.options"),
                "Root",
                quoted(self.dir.join("state").join("runc")),
            ),
            (
                "plugins.\"io.containerd.internal.v1.opt\"",
                "path",
                quoted(self.dir.join("opt")),
            ),
        ];
        for (table, key, value) in &settings {
            set_toml(&mut config, table, key, value).map_err(io::Error::other)?;
        }
        Ok(config)
    }

    fn ttrpc_socket(&self) -> PathBuf {
        let mut name = self.socket.clone().into_os_string();
        name.push(".ttrpc");
        PathBuf::from(name)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("containerd.log")
    }

    /// Waits until the CRI `Version` RPC answers, or containerd exits, or time runs out.
    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_error = String::from("not tried");
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .map(Child::try_wait)
                .transpose()?
                .flatten()
            {
                return Err(io::Error::other(format!("containerd exited: {status}")));
            }
            if self.socket.exists() {
                match block_on(async { Kubelet::connect(&self.socket).await?.version().await }) {
                    Ok(_) => return Ok(()),
                    Err(e) => last_error = e,
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "containerd did not answer CRI Version within {READY_TIMEOUT:?}: {last_error}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Imports each of [`IMAGES`] that CRI does not have yet, then waits until CRI's image
    /// store (updated from containerd's events) lists it.
    fn import_images(&self) -> io::Result<()> {
        let socket = self.socket.clone();
        let present = |image: &str| {
            block_on(async { Kubelet::connect(&socket).await?.image_present(image).await })
                .map_err(io::Error::other)
        };
        for (image, archive) in IMAGES {
            if present(image)? {
                continue;
            }
            let output = Command::new("ctr")
                .arg("--address")
                .arg(&self.socket)
                .args(["-n", "k8s.io", "images", "import"])
                .arg(Path::new(IMAGES_DIR).join(archive))
                .output()?;
            if !output.status.success() {
                return Err(io::Error::other(format!(
                    "ctr images import {archive}: {}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                )));
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while !present(image)? {
                if Instant::now() > deadline {
                    return Err(io::Error::other(format!(
                        "CRI does not list {image} after import"
                    )));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    /// Removes every pod sandbox through CRI; the first error is returned after trying all.
    fn remove_all_pods(&self) -> Result<(), String> {
        block_on(async {
            let mut kubelet = Kubelet::connect(&self.socket).await?;
            let mut result = Ok(());
            for pod in kubelet.list_pods().await? {
                if let Err(e) = kubelet.remove_pod(&pod.id).await {
                    result = result.and(Err(e));
                }
            }
            result
        })
    }

    /// Kills the shims left behind (see [`Containerd::shim_pids`]): first their children,
    /// the containers' first processes, whose PID namespaces go with them, then the shims.
    fn kill_leftover_shims(&self) {
        let shims = self.shim_pids();
        if shims.is_empty() {
            return;
        }
        let all = processes();
        let children = all
            .iter()
            .filter(|p| shims.contains(&p.ppid))
            .map(|p| p.pid);
        for pid in children.chain(shims.iter().copied()) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Pods left running while containerd was stopped: start it again to remove them.
        if self.child.is_none() && !self.shim_pids().is_empty() {
            let _ = self.launch();
        }
        if self.child.is_some() {
            if let Err(e) = self.remove_all_pods() {
                eprintln!("containerd cleanup: removing pods: {e}");
            }
        }
        if let Err(e) = self.stop() {
            eprintln!("containerd cleanup: stopping containerd: {e}");
        }
        self.kill_leftover_shims();
    }
}

/// Snapshotter plugins that cannot work on this kind of machine (no aufs module, no btrfs,
/// zfs or devmapper pool); overlayfs and native stay.
const DISABLED_PLUGINS: &str = "[\"io.containerd.snapshotter.v1.aufs\", \
\"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \
\"io.containerd.snapshotter.v1.devmapper\"]";

/// Sets `key = value` in `table` (`""`: the top level) of a TOML text as `containerd
/// config default` prints it: one `[table]` header per table, one `key = value` a line.
/// The key must already be there, so that a changed default shows up as an error.
fn set_toml(config: &mut String, table: &str, key: &str, value: &str) -> Result<(), String> {
    let header = format!("[{table}]");
    let mut in_table = table.is_empty();
    let mut done = false;
    let lines: Vec<String> = config
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if trimmed.starts_with('[') {
                in_table = trimmed == header;
            } else if in_table && !done {
                if let Some((name, _)) = trimmed.split_once('=') {
                    if name.trim() == key {
                        done = true;
                        let indent = &line[..line.len() - trimmed.len()];
                        return format!("{indent}{key} = {value}");
                    }
                }
            }
            line.to_string()
        })
        .collect();
    if !done {
        return Err(format!(
            "containerd config default has no `{key}` in [{table}]"
        ));
    }
    *config = lines.join("\n") + "\n";
    Ok(())
}

/// Runs a future to completion on a runtime of its own, in a thread of its own: usable
/// from plain code and from inside an async test alike (e.g. in `Drop`).
pub fn block_on<F>(future: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("building a tokio runtime")
                    .block_on(future)
            })
            .join()
            .expect("the block_on thread panicked")
    })
}

struct Process {
    pid: u32,
    ppid: u32,
    cmdline: Vec<String>,
}

/// Every process on the machine with its parent and command line.
fn processes() -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = raw
                .split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            Some(Process { pid, ppid, cmdline })
        })
        .collect()
}

fn find_in_path(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(binary))
        .find(|path| path.is_file())
}

/// The last `bytes` of a file (lossily decoded), or why it could not be read.
fn tail(path: &Path, bytes: u64) -> String {
    let read = || -> io::Result<String> {
        let mut file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(bytes)))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    read().unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// A directory for one containerd's state that is removed on drop, after the
/// [`Containerd`] in it (declare it first so it drops last) — unless something is still
/// mounted below it, in which case it is left alone and named on stderr: deleting through
/// a leftover mount could reach files outside the directory.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// A fresh, empty directory `/tmp/kotel-<tag>-<pid>-<n>` (short, so that the socket
    /// path inside it stays well under the 108-byte limit of a Unix socket address).
    pub fn new(tag: &str) -> io::Result<Self> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("kotel-{tag}-{}-{n}", std::process::id()));
        match fs::remove_dir_all(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        fs::create_dir_all(&path)?;
        Ok(ScratchDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mount points at or below this directory.
    pub fn mounts_below(&self) -> Vec<String> {
        let prefix = self.path.to_string_lossy().into_owned();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split(' ').nth(4).map(str::to_string))
            .filter(|mount_point| {
                mount_point == &prefix || mount_point.starts_with(&format!("{prefix}/"))
            })
            .collect()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let mounts = self.mounts_below();
        if !mounts.is_empty() {
            eprintln!(
                "leaving {} in place: still mounted below it: {mounts:?}",
                self.path.display()
            );
            return;
        }
        if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("removing {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::set_toml;

    #[test]
    fn set_toml_changes_the_key_of_the_named_table_only() {
        let mut text =
            "root = \"/a\"\n[grpc]\n  address = \"x\"\n[ttrpc]\n  address = \"\"\n".to_string();
        set_toml(&mut text, "ttrpc", "address", "\"/s.ttrpc\"").unwrap();
        set_toml(&mut text, "", "root", "\"/b\"").unwrap();
        assert_eq!(
            text,
            "root = \"/b\"\n[grpc]\n  address = \"x\"\n[ttrpc]\n  address = \"/s.ttrpc\"\n"
        );
        assert!(set_toml(&mut text, "grpc", "root", "1").is_err());
    }
}
