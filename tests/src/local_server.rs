//! What the receiver neighbours ([`crate::rotel`], [`crate::prometheus`]) share: a child
//! process serving on loopback ports of the test's choosing, with its output in a file.
//!
//! Ports are picked by binding `127.0.0.1:0` and releasing the port at once, so another
//! process may take it before the server binds it: callers retry with fresh ports when the
//! server exits early ([`start_with_fresh_ports`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How often the waits below look again.
pub const POLL: Duration = Duration::from_millis(20);

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// The address `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// True when something accepts TCP connections on `127.0.0.1:port`.
pub fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&loopback(port), Duration::from_millis(200)).is_ok()
}

/// Spawns `command` with stdout and stderr both appended to `log` (created if missing,
/// so output of successive runs follows each other in one file) and waits until every
/// port in `ports` accepts connections. Fails, with the child killed, when it exits first
/// (`ErrorKind::Other`, naming its status and the log's tail) or after `timeout`
/// (`ErrorKind::TimedOut`).
pub fn spawn_serving(
    command: &mut Command,
    log: &Path,
    ports: &[u16],
    timeout: Duration,
) -> io::Result<Child> {
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()?;
    match wait_for_ports(&mut child, ports, log, timeout) {
        Ok(()) => Ok(child),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

fn wait_for_ports(
    child: &mut Child,
    ports: &[u16],
    log: &Path,
    timeout: Duration,
) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!(
                "exited with {status} before serving {ports:?}; output:\n{}",
                tail(log, 2048)
            )));
        }
        if ports.iter().all(|&port| accepts(port)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "not serving {ports:?} after {timeout:?}; output:\n{}",
                    tail(log, 2048)
                ),
            ));
        }
        thread::sleep(POLL);
    }
}

/// Runs `launch` with fresh ports (from [`free_port`]) up to three times, retrying only
/// when the server exited before serving (most likely: one of its ports was taken in the
/// meantime). `launch` gets the ports and returns the started child or why it failed.
pub fn start_with_fresh_ports<T>(
    count: usize,
    mut launch: impl FnMut(&[u16]) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for _ in 0..3 {
        let ports = (0..count)
            .map(|_| free_port())
            .collect::<io::Result<Vec<_>>>()?;
        match launch(&ports) {
            Ok(started) => return Ok(started),
            Err(e) if e.kind() == io::ErrorKind::Other => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no attempt made")))
}

/// Stops a child: SIGTERM, then SIGKILL once `grace` has passed; reaps it either way.
pub fn terminate(child: &mut Child, grace: Duration) -> io::Result<()> {
    if child.try_wait()?.is_some() {
        return Ok(());
    }
    // SAFETY: kill has no memory-safety preconditions; the pid is our own unreaped child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            child.kill()?;
            child.wait()?;
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Waits until nothing accepts connections on any of `ports` (a stopped server's
/// listening sockets can outlive its process by a moment).
pub fn wait_ports_closed(ports: &[u16], timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    while ports.iter().any(|&port| accepts(port)) {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{ports:?} still accept connections after {timeout:?}"),
            ));
        }
        thread::sleep(POLL);
    }
    Ok(())
}

/// The file's bytes from `offset` on, as text (lossy); empty when it does not exist.
pub fn read_from(path: &Path, offset: u64) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_default()
}

/// The size of the file, 0 when it does not exist.
pub fn len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The last `bytes` bytes of the file, as text.
pub fn tail(path: &Path, bytes: u64) -> String {
    read_from(path, len(path).saturating_sub(bytes))
}
