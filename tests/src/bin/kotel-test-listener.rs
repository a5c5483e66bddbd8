//! A TCP server in a process of its own, for the owner-attribution test: waits for a line
//! on stdin (so the test can move it into a cgroup first), listens on 127.0.0.1, prints
//! its port, then serves N connections (reads "ping", answers "pong", closes) and exits.

use std::io::{BufRead, Read, Write};
use std::net::TcpListener;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("usage: kotel-test-listener N");
    let mut go = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut go)
        .expect("waiting for the go line");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("{}", listener.local_addr().expect("address").port());
    std::io::stdout().flush().expect("stdout");
    for _ in 0..n {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).expect("ping");
        conn.write_all(b"pong").expect("pong");
    }
}
