//! Helpers of the connection-quality root tests: two network namespaces joined by a veth
//! pair (traffic control on the client's end), `TCP_INFO` ground truth, and merging the
//! interval histograms the source emitted.

// Included by two test binaries, each using part of it.
#![allow(dead_code)]

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::thread;

use kotel::event::{CgroupHistogram, HistogramMetric};
use kotel_integration_tests::support::NetnsThread;

/// Address of the server end (`kv1`).
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// The client's interface, where qdiscs go (shaping and dropping client -> server).
pub const CLIENT_DEV: &str = "kv0";

/// Two namespace threads joined by a veth pair: `kv0` (10.77.0.1/24) in `client`, `kv1`
/// (10.77.0.2/24) in `server`. Dropping it deletes both namespaces and the pair.
pub struct VethPair {
    /// The client's namespace (also where `tc` runs).
    pub client: NetnsThread,
    /// The server's namespace.
    pub server: NetnsThread,
}

/// Runs a command of iproute2 in the calling thread's network namespace.
pub fn run(cmd: &str, args: &[&str]) -> io::Result<()> {
    let out = Command::new(cmd).args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

impl VethPair {
    /// Creates both namespaces and the pair (needs `ip` from iproute2 and root).
    pub fn new() -> io::Result<Self> {
        let client = NetnsThread::spawn()?;
        let server = NetnsThread::spawn()?;
        // `ip ... netns <N>` takes a task id: the server thread's id names its namespace.
        // SAFETY: gettid has no preconditions.
        let server_tid = server.run(|| unsafe { libc::gettid() }).to_string();
        client.run(move || {
            let add = [
                "link", "add", CLIENT_DEV, "type", "veth", "peer", "name", "kv1", "netns",
            ];
            run("ip", &[&add[..], &[server_tid.as_str()]].concat())?;
            run("ip", &["addr", "add", "10.77.0.1/24", "dev", CLIENT_DEV])?;
            run("ip", &["link", "set", CLIENT_DEV, "up"])
        })?;
        server.run(|| {
            run("ip", &["addr", "add", "10.77.0.2/24", "dev", "kv1"])?;
            run("ip", &["link", "set", "kv1", "up"])
        })?;
        Ok(Self { client, server })
    }

    /// A connection across the pair: a listener on [`SERVER_IP`] in the server namespace,
    /// whose accepted socket `serve` gets in a thread of its own (joined through the handle),
    /// and the client end, connected from the client namespace.
    pub fn connect<T: Send + 'static>(
        &self,
        serve: impl FnOnce(TcpStream) -> T + Send + 'static,
    ) -> (TcpStream, thread::JoinHandle<T>) {
        let listener = self
            .server
            .run(|| TcpListener::bind((SERVER_IP, 0)))
            .expect("listen in the server namespace");
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || serve(listener.accept().expect("accept").0));
        let client = self
            .client
            .run(move || TcpStream::connect((SERVER_IP, port)))
            .expect("connect across the veth pair");
        (client, server)
    }

    /// `tc qdisc <args...>` on the client's interface, e.g. `["add", "root", "blackhole"]`
    /// becomes `tc qdisc add dev kv0 root blackhole`.
    pub fn qdisc(&self, verb: &str, args: &[&str]) -> io::Result<()> {
        let mut all = vec!["qdisc".to_string(), verb.to_string()];
        all.extend(["dev".to_string(), CLIENT_DEV.to_string()]);
        all.extend(args.iter().map(|a| a.to_string()));
        self.client.run(move || {
            let args: Vec<&str> = all.iter().map(String::as_str).collect();
            run("tc", &args)
        })
    }
}

/// `TCP_INFO` of a socket (works from any thread, whatever its namespace).
pub fn tcp_info(sock: &impl AsRawFd) -> io::Result<libc::tcp_info> {
    // SAFETY: tcp_info is plain old data; the kernel fills at most `len` bytes.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        if rc == 0 {
            Ok(info)
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Every interval of `metric` for `cgroup`, merged into one histogram (buckets added by
/// index); `None` when there is none.
pub fn merged(
    histograms: &[CgroupHistogram],
    metric: HistogramMetric,
    cgroup: u64,
) -> Option<CgroupHistogram> {
    let mine: Vec<&CgroupHistogram> = histograms
        .iter()
        .filter(|h| h.metric == metric && h.cgroup_id == cgroup)
        .collect();
    let first = *mine.first()?;
    let lo = mine.iter().map(|h| h.offset).min()?;
    let hi = mine
        .iter()
        .map(|h| h.offset + h.bucket_counts.len() as i32)
        .max()?;
    let mut out = CgroupHistogram {
        workload: None,
        offset: lo,
        bucket_counts: vec![0; (hi - lo).max(0) as usize],
        zero_count: 0,
        count: 0,
        sum: 0.0,
        start_time_unix_nano: mine.iter().map(|h| h.start_time_unix_nano).min()?,
        time_unix_nano: mine.iter().map(|h| h.time_unix_nano).max()?,
        ..first.clone()
    };
    for h in &mine {
        assert_eq!(h.scale, first.scale, "one scale for every interval");
        for (i, n) in h.bucket_counts.iter().enumerate() {
            out.bucket_counts[(h.offset - lo) as usize + i] += n;
        }
        out.zero_count += h.zero_count;
        out.count += h.count;
        out.sum += h.sum;
    }
    Some(out)
}

/// Sets `SO_SNDBUF` (the kernel doubles the value).
pub fn set_send_buffer(sock: &impl AsRawFd, bytes: i32) -> io::Result<()> {
    // SAFETY: a valid fd and an int option value.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&bytes as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The median of `values` (sorted in place); 0 for none.
pub fn median(values: &mut [u32]) -> u32 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}
