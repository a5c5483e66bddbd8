//! Helpers of the tcp kernel test: a thread living in its own network namespace, the
//! test's cgroup id, and the loopback workload whose events the test asserts.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

/// Name of the namespace thread; the kernel reports it as the `comm` of every socket the
/// test opens (connect and listen both happen on this thread).
pub const THREAD_NAME: &str = "kotel-netns";

type Job = Box<dyn FnOnce() + Send>;

/// A thread that unshared its network namespace (with `lo` up) and runs closures there:
/// sockets it creates live in that namespace. The namespace dies with the thread.
pub struct NetnsThread {
    jobs: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
    /// Inode of the namespace (what the kernel program reports as `netns`).
    pub inode: u32,
}

impl NetnsThread {
    /// Starts the thread; fails when the namespace cannot be created.
    pub fn spawn() -> io::Result<Self> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let handle = thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                let setup = || -> io::Result<u32> {
                    // SAFETY: affects only this thread's namespaces.
                    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    loopback_up()?;
                    Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino() as u32)
                };
                let result = setup();
                let ok = result.is_ok();
                let _ = ready_tx.send(result);
                if ok {
                    for job in rx {
                        job();
                    }
                }
            })?;
        let inode = ready_rx
            .recv()
            .map_err(|_| io::Error::other("netns thread died"))??;
        Ok(Self {
            jobs: Some(jobs),
            handle: Some(handle),
            inode,
        })
    }

    /// Runs `f` on the namespace thread and returns its result (re-raising its panic).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        });
        self.jobs
            .as_ref()
            .expect("running")
            .send(job)
            .expect("netns thread alive");
        match rx.recv().expect("netns thread answered") {
            Ok(v) => v,
            Err(panic) => resume_unwind(panic),
        }
    }
}

impl Drop for NetnsThread {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// `ip link set lo up`, through SIOCSIFFLAGS on a socket of the current namespace.
fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket/ioctl calls on a zeroed ifreq naming "lo".
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        let mut rc = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr);
        if rc == 0 {
            ifr.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            rc = libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr);
        }
        let err = io::Error::last_os_error();
        libc::close(fd);
        if rc == 0 {
            Ok(())
        } else {
            Err(err)
        }
    }
}

/// The cgroup2 mount point and this process's cgroup path below it.
fn own_cgroup_dir() -> io::Result<std::path::PathBuf> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup")?;
    let path = cgroups
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| io::Error::other("no cgroup2 (0::) line in /proc/self/cgroup"))?;
    let mounts = std::fs::read_to_string("/proc/self/mounts")?;
    let mount = mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[2] == "cgroup2")
        .map(|f| f[1].to_string())
        .ok_or_else(|| io::Error::other("no cgroup2 mount"))?;
    Ok(std::path::PathBuf::from(format!("{mount}{path}")))
}

/// cgroup v2 id of this process: the inode of its cgroup2 directory (what
/// `bpf_get_current_cgroup_id()` returns).
pub fn own_cgroup_id() -> io::Result<u64> {
    Ok(std::fs::metadata(own_cgroup_dir()?)?.ino())
}

/// While alive, a process (this one, or a child) sits in a cgroup2 child created for it,
/// so its events can be told apart by a cgroup id that nothing else on the machine has.
/// Dropping it moves the process back (if it still runs) and removes the child cgroup.
/// Callers serialise on [`CGROUP_LOCK`].
pub struct FreshCgroup {
    parent: std::path::PathBuf,
    child: std::path::PathBuf,
    pid: u32,
    /// cgroup v2 id (inode) of the new cgroup.
    pub id: u64,
}

/// Serialises tests that move processes between cgroups.
pub static CGROUP_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl FreshCgroup {
    /// Moves this process into `<own cgroup>/kotel-test-<pid>-<tag>`.
    pub fn enter(tag: &str) -> io::Result<Self> {
        Self::move_pid(std::process::id(), tag)
    }

    /// Moves process `pid` into `<own cgroup>/kotel-test-<own pid>-<tag>`.
    pub fn move_pid(pid: u32, tag: &str) -> io::Result<Self> {
        let parent = own_cgroup_dir()?;
        let child = parent.join(format!("kotel-test-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&child)?;
        if let Err(e) = std::fs::write(child.join("cgroup.procs"), pid.to_string()) {
            let _ = std::fs::remove_dir(&child);
            return Err(e);
        }
        let id = std::fs::metadata(&child)?.ino();
        Ok(Self {
            parent,
            child,
            pid,
            id,
        })
    }
}

impl Drop for FreshCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.parent.join("cgroup.procs"), self.pid.to_string());
        let _ = std::fs::remove_dir(&self.child);
    }
}

/// True when `ip` can be bound in the current namespace (IPv6 may be disabled).
pub fn can_bind(ip: IpAddr) -> bool {
    TcpListener::bind((ip, 0)).is_ok()
}

/// One full connection on `ip`: listen, connect, exchange bytes, close both ends. Returns
/// the listener's port.
pub fn one_connection(ip: IpAddr) -> io::Result<u16> {
    let listener = TcpListener::bind((ip, 0))?;
    let port = listener.local_addr()?.port();
    let (client, _) = exchange(&listener)?;
    drop(client);
    Ok(port)
}

/// Connects to `listener`, accepts, sends "ping"/"pong"; returns (client, server).
fn exchange(listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    let mut buf = [0u8; 4];
    client.write_all(b"ping")?;
    server.read_exact(&mut buf)?;
    server.write_all(b"pong")?;
    client.read_exact(&mut buf)?;
    assert_eq!(&buf, b"pong");
    Ok((client, server))
}

/// What [`workload`] did.
#[derive(Debug)]
pub struct Workload {
    /// Port of the listener every connection went to.
    pub port: u16,
    /// Local ports of the client sockets.
    pub client_ports: Vec<u16>,
    /// A port nothing listens on; one connect to it was refused.
    pub closed_port: u16,
}

/// `n` connections to one listener (connect, exchange, client closes, server closes), then
/// one connect to a closed port.
pub fn workload(ip: IpAddr, n: usize) -> io::Result<Workload> {
    let listener = TcpListener::bind((ip, 0))?;
    let port = listener.local_addr()?.port();
    let mut client_ports = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, server) = exchange(&listener)?;
        client_ports.push(client.local_addr()?.port());
        drop(client);
        drop(server);
    }
    let closed_port = TcpListener::bind((ip, 0))?.local_addr()?.port();
    match TcpStream::connect(SocketAddr::new(ip, closed_port)) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
        other => panic!("connect to closed port {closed_port}: expected refusal, got {other:?}"),
    }
    drop(listener);
    Ok(Workload {
        port,
        client_ports,
        closed_port,
    })
}
