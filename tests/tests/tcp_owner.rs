//! Who owns a connection, as root against the real kernel: the client and the server are
//! different processes in different cgroups. Accepts run in softirq context, where the
//! current task is whoever was interrupted (on loopback: the client), so a program that
//! asked for the current task there would attribute the server's events to the client.
//! kotel must report the listening process for accepts and the connecting one for connects.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Command, Stdio};

use kotel::event::{Direction, TcpConnEvent, TcpEventKind};
use kotel_integration_tests::{harness, is_root, skip, support};
use support::{FreshCgroup, NetnsThread, THREAD_NAME};

const N: usize = 20;

#[test]
fn accepts_belong_to_the_listening_process_and_connects_to_the_connecting_one() {
    if !is_root() {
        return skip("tcp_owner", "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let ns = NetnsThread::spawn().expect("creating a network namespace");
    let mut source = harness::Attached::start(&ns, Ipv4Addr::LOCALHOST.into());

    // The server: a child process started from the namespace thread (so it lives in the
    // test's network namespace), moved into a cgroup of its own before it listens.
    let mut server = ns
        .run(|| {
            Command::new(env!("CARGO_BIN_EXE_kotel-test-listener"))
                .arg(N.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
        })
        .expect("starting the listener process");
    let server_pid = server.id();
    let server_cgroup = FreshCgroup::move_pid(server_pid, "server").expect("cgroup for the server");
    let client_cgroup = FreshCgroup::enter("client").expect("cgroup for the client");
    server.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut port = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    let port: u16 = port.trim().parse().expect("the listener prints its port");

    ns.run(move || {
        for _ in 0..N {
            let mut client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
            client.write_all(b"ping").unwrap();
            client.read_exact(&mut [0u8; 4]).unwrap();
        }
    });
    assert!(
        server.wait().unwrap().success(),
        "the listener served every connection"
    );
    let (server_cgroup_id, client_cgroup_id) = (server_cgroup.id, client_cgroup.id);
    drop((client_cgroup, server_cgroup));

    let ours =
        |e: &TcpConnEvent| e.netns == ns.inode && (e.local_port == port || e.remote_port == port);
    source.collect_until(4 * N, |seen| seen.iter().filter(|e| ours(e)).count());
    let events: Vec<TcpConnEvent> = source.stop().into_iter().filter(ours).collect();

    let server_side = |k: TcpEventKind| {
        events
            .iter()
            .filter(move |e| e.kind == k && e.local_port == port)
    };
    let client_side = |k: TcpEventKind| {
        events
            .iter()
            .filter(move |e| e.kind == k && e.remote_port == port)
    };
    assert_eq!(server_side(TcpEventKind::Accept).count(), N, "{events:#?}");
    assert_eq!(client_side(TcpEventKind::Connect).count(), N, "{events:#?}");
    for e in server_side(TcpEventKind::Accept).chain(server_side(TcpEventKind::Close)) {
        assert_eq!(
            (e.pid, e.cgroup_id, &*e.comm, e.direction),
            (
                server_pid,
                server_cgroup_id,
                "kotel-test-list",
                Direction::Inbound
            ),
            "server-side event owned by the listening process: {e:?}"
        );
    }
    for e in client_side(TcpEventKind::Connect).chain(client_side(TcpEventKind::Close)) {
        assert_eq!(
            (e.pid, e.cgroup_id, &*e.comm, e.direction),
            (
                std::process::id(),
                client_cgroup_id,
                THREAD_NAME,
                Direction::Outbound
            ),
            "client-side event owned by the connecting process: {e:?}"
        );
    }
    assert_eq!(
        server_side(TcpEventKind::Close).count(),
        N,
        "every server-side close is reported"
    );
    assert_eq!(
        client_side(TcpEventKind::Close).count(),
        N,
        "every client-side close is reported"
    );
}

/// A TCP listener on 127.0.0.1:`port` (0: any) with `SO_REUSEPORT` set before bind.
fn reuseport_listener(port: u16) -> std::net::TcpListener {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns until it hands it over.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let one: libc::c_int = 1;
        let set = libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEPORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
        assert_eq!(set, 0, "SO_REUSEPORT: {}", std::io::Error::last_os_error());
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let bound = libc::bind(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
        assert_eq!(
            libc::listen(fd, 128),
            0,
            "listen: {}",
            std::io::Error::last_os_error()
        );
        std::net::TcpListener::from_raw_fd(fd)
    }
}

#[test]
fn a_reuseport_sibling_keeps_its_owner_when_the_newest_listener_closes_first() {
    if !is_root() {
        return skip("tcp_owner_reuseport", "loading kernel programs needs root");
    }
    let _serial = support::CGROUP_LOCK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let ns = NetnsThread::spawn().expect("creating a network namespace");
    let mut source = harness::Attached::start(&ns, Ipv4Addr::LOCALHOST.into());
    let cgroup = FreshCgroup::enter("reuseport").expect("a cgroup for the test");
    let port = ns.run(|| {
        let first = reuseport_listener(0);
        let port = first.local_addr().unwrap().port();
        // The newest listen() on the port closes first (a scaled-down replica, a worker
        // that exits); the first keeps serving.
        drop(reuseport_listener(port));
        for _ in 0..N {
            let client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
            drop(first.accept().expect("accept"));
            drop(client);
        }
        port
    });
    let cgroup_id = cgroup.id;
    drop(cgroup);
    let accepts = |e: &TcpConnEvent| {
        e.netns == ns.inode && e.local_port == port && e.kind == TcpEventKind::Accept
    };
    source.collect_until(N, |seen| seen.iter().filter(|e| accepts(e)).count());
    let events: Vec<TcpConnEvent> = source.stop().into_iter().filter(accepts).collect();
    assert_eq!(events.len(), N, "{events:#?}");
    for e in &events {
        assert_eq!(
            (e.pid, e.cgroup_id, &*e.comm, e.direction),
            (
                std::process::id(),
                cgroup_id,
                THREAD_NAME,
                Direction::Inbound
            ),
            "an accept of the remaining listener keeps its owner: {e:?}"
        );
    }
}
