//! An HTTP/1.1 peer in a process of its own, for the `l7` source's tests (the agent does
//! not follow its own sockets, and the kernel matrix's guests have no Python): std only.
//!
//! ```text
//! kotel-test-http server                 listens on 127.0.0.1, prints its port, serves until killed
//! kotel-test-http client PORT PATH...    one keep-alive connection, the requests in turn
//! kotel-test-http pipeline PORT PATH...  one connection, every request in one write
//! kotel-test-http reconnect PORT N       N connections in turn, one GET /r each
//! kotel-test-http late PORT PATH...      connects, prints `connected`, waits for a line on
//!                                        stdin, then sends the requests on that connection
//! kotel-test-http concurrent PORT N      N connections open at once, one GET /c each
//! kotel-test-http raw PORT KIND          garbage | tls | slow | longhead | mute | abandon | peek
//! kotel-test-http load CONNECTIONS REQUESTS   a server of its own and keep-alive clients
//! kotel-test-http syscalls N             N one-byte writes and reads on a pipe
//! ```
//!
//! `load` and `syscalls` are benchmark loads (scripts/bench/l7.py): their last line is
//! `<operations> <wall ns> <process cpu ns>`.
//!
//! The server answers `GET /sleep/MS` after sleeping MS ms, `/fail` with 500, `/big/N`
//! with an N-byte body written 4 KiB at a time, `/mute` never (it holds the connection
//! until the client closes), `/drop` by closing; HEAD without a body; anything else with
//! a 64-byte body. `Expect: 100-continue` gets a `100 Continue` first. A `PATH` of the
//! client may be `METHOD:/path` (`POST` sends a 10-byte body with `Expect: 100-continue`).
//! Each client prints `done` when every response is read.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// Raises the soft limit on open descriptors to the hard one (a thousand connections
/// take two descriptors each: the socket and its `try_clone`).
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid resource id and out-pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn main() {
    raise_descriptor_limit();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = || -> u16 { args[1].parse().expect("PORT") };
    match args.first().map(String::as_str) {
        Some("server") => server(),
        Some("client") => client(port(), &args[2..]),
        Some("pipeline") => pipeline(port(), &args[2..]),
        Some("reconnect") => reconnect(port(), args[2].parse().expect("N")),
        Some("late") => late(port(), &args[2..]),
        Some("concurrent") => concurrent(port(), args[2].parse().expect("N")),
        Some("raw") => raw(port(), &args[2]),
        Some("load") => {
            return load(
                args[1].parse().expect("CONNECTIONS"),
                args[2].parse().expect("REQUESTS"),
            )
        }
        Some("syscalls") => return syscalls(args[1].parse().expect("N")),
        _ => panic!("usage: see the file's header"),
    }
    println!("done");
}

fn server() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("{}", listener.local_addr().expect("address").port());
    std::io::stdout().flush().expect("stdout");
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        std::thread::spawn(move || serve(conn));
    }
}

/// A request head as the server reads it.
struct Head {
    method: String,
    path: String,
    length: usize,
    expect_continue: bool,
    close: bool,
}

fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Head> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut head = Head {
        method,
        path,
        length: 0,
        expect_continue: false,
        close: false,
    };
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Some(head);
        }
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => head.length = value.parse().ok()?,
            "expect" => head.expect_continue = value.eq_ignore_ascii_case("100-continue"),
            "connection" => head.close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
}

fn serve(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let mut writer = conn.try_clone().expect("clone");
    let mut reader = BufReader::new(conn);
    while let Some(head) = read_head(&mut reader) {
        if head.expect_continue {
            let _ = writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let mut body = vec![0u8; head.length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = head.path.as_str();
        if path == "/drop" {
            return;
        }
        if path == "/mute" {
            // Hold the connection until the client goes away.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
            return;
        }
        if let Some(ms) = path.strip_prefix("/sleep/") {
            std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
        }
        let status = if path == "/fail" {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        let size: usize = path
            .strip_prefix("/big/")
            .and_then(|n| n.parse().ok())
            .unwrap_or(64);
        let connection = if head.close { "close" } else { "keep-alive" };
        let response_head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {size}\r\nConnection: {connection}\r\n\r\n"
        );
        let body = if head.method == "HEAD" {
            Vec::new()
        } else {
            vec![b'x'; size]
        };
        // A small response in one write (as servers do); a big body 4 KiB at a time.
        let written = if body.len() <= 4096 {
            writer.write_all(&[response_head.as_bytes(), &body].concat())
        } else {
            writer.write_all(response_head.as_bytes()).and_then(|()| {
                body.chunks(4096)
                    .try_for_each(|piece| writer.write_all(piece))
            })
        };
        if written.is_err() {
            return;
        }
        if head.close {
            return;
        }
    }
}

/// The request for `spec` (`/path` or `METHOD:/path`).
fn request(spec: &str) -> Vec<u8> {
    let (method, path) = spec.split_once(':').unwrap_or(("GET", spec));
    match method {
        "POST" => format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n0123456789"
        )
        .into_bytes(),
        _ => format!("{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes(),
    }
}

/// Reads one final response (skipping 1xx) for a request of `method`.
fn read_response(reader: &mut BufReader<TcpStream>, method: &str) {
    loop {
        let mut status = String::new();
        reader.read_line(&mut status).expect("status line");
        let interim = status
            .split_whitespace()
            .nth(1)
            .is_some_and(|c| c.starts_with('1'));
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header line");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("length");
                }
            }
        }
        if interim {
            continue;
        }
        if method != "HEAD" {
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).expect("body");
        }
        return;
    }
}

fn connect(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    conn.set_nodelay(true).expect("nodelay");
    let reader = BufReader::new(conn.try_clone().expect("clone"));
    (conn, reader)
}

fn method_of(spec: &str) -> &str {
    spec.split_once(':').map_or("GET", |(m, _)| m)
}

fn client(port: u16, specs: &[String]) {
    let (mut conn, mut reader) = connect(port);
    for spec in specs {
        conn.write_all(&request(spec)).expect("request");
        read_response(&mut reader, method_of(spec));
    }
}

fn pipeline(port: u16, specs: &[String]) {
    let (mut conn, mut reader) = connect(port);
    let all: Vec<u8> = specs.iter().flat_map(|s| request(s)).collect();
    conn.write_all(&all).expect("requests");
    for spec in specs {
        read_response(&mut reader, method_of(spec));
    }
}

fn late(port: u16, specs: &[String]) {
    let (mut conn, mut reader) = connect(port);
    println!("connected");
    std::io::stdout().flush().expect("stdout");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("stdin");
    for spec in specs {
        conn.write_all(&request(spec)).expect("request");
        read_response(&mut reader, method_of(spec));
    }
}

fn reconnect(port: u16, n: usize) {
    for _ in 0..n {
        client(port, &["/r".to_string()]);
    }
}

fn concurrent(port: u16, n: usize) {
    let mut conns: Vec<_> = (0..n).map(|_| connect(port)).collect();
    for (conn, _) in &mut conns {
        conn.write_all(&request("/c")).expect("request");
    }
    for (_, reader) in &mut conns {
        read_response(reader, "GET");
    }
}

fn raw(port: u16, kind: &str) {
    let (mut conn, mut reader) = connect(port);
    conn.set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    match kind {
        "garbage" => {
            let bytes: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
            conn.write_all(&bytes).expect("garbage");
        }
        "tls" => conn
            .write_all(&[
                0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03,
            ])
            .expect("tls"),
        "slow" => {
            // Slowloris-style: the head one byte per write.
            for b in request("/slow") {
                conn.write_all(&[b]).expect("byte");
                std::thread::sleep(Duration::from_millis(2));
            }
            read_response(&mut reader, "GET");
        }
        "longhead" => {
            let cookie = "c".repeat(6000);
            let head = format!("GET /long HTTP/1.1\r\nHost: test\r\nCookie: {cookie}\r\n\r\n");
            conn.write_all(head.as_bytes()).expect("long head");
            read_response(&mut reader, "GET");
            // The connection stays usable.
            conn.write_all(&request("/after")).expect("request");
            read_response(&mut reader, "GET");
        }
        "mute" => {
            conn.write_all(&request("/mute")).expect("request");
            // No answer comes: wait past the source's timeout, then close.
            conn.set_read_timeout(Some(Duration::from_millis(2500)))
                .expect("timeout");
            let mut byte = [0u8; 1];
            assert!(reader.read(&mut byte).is_err(), "the mute path answered");
        }
        "peek" => {
            // Peek at the response before reading it (as proxies' inspectors do): the
            // bytes are read twice, the request answered once.
            use std::os::fd::AsRawFd;
            conn.write_all(&request("/peek")).expect("request");
            let mut buf = [0u8; 64];
            // SAFETY: a valid buffer of its length on our own socket.
            let n = unsafe {
                libc::recv(
                    conn.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_PEEK,
                )
            };
            assert!(n > 0, "peek");
            read_response(&mut reader, "GET");
        }
        "abandon" => {
            conn.write_all(&request("/drop")).expect("request");
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
        }
        other => panic!("unknown raw kind {other}"),
    }
}

/// CPU time of this process, in ns.
fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid clock id and out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Prints a benchmark load's last line.
fn report(ops: usize, started: std::time::Instant, cpu0: u64) {
    println!(
        "{ops} {} {}",
        started.elapsed().as_nanos(),
        process_cpu_ns() - cpu0
    );
}

/// `connections` keep-alive clients share `requests` GETs (64-byte bodies) to a server in
/// this process.
fn load(connections: usize, requests: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve(conn));
        }
    });
    let (cpu0, started) = (process_cpu_ns(), std::time::Instant::now());
    let per = requests / connections.max(1);
    let clients: Vec<_> = (0..connections)
        .map(|_| {
            std::thread::spawn(move || {
                let (mut conn, mut reader) = connect(port);
                let request = request("/b");
                for _ in 0..per {
                    conn.write_all(&request).expect("request");
                    read_response(&mut reader, "GET");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    report(per * connections, started, cpu0);
}

/// `n` one-byte write+read pairs on a pipe: descriptors the l7 source never follows.
fn syscalls(n: usize) {
    let mut fds = [0i32; 2];
    // SAFETY: a valid out-array of two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let (cpu0, started) = (process_cpu_ns(), std::time::Instant::now());
    let mut byte = [7u8; 1];
    for _ in 0..n {
        // SAFETY: one byte to and from our own pipe.
        unsafe {
            libc::write(fds[1], byte.as_ptr().cast(), 1);
            libc::read(fds[0], byte.as_mut_ptr().cast(), 1);
        }
    }
    report(2 * n, started, cpu0);
}
