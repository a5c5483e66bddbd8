//! A loopback request/response workload for overhead measurements: `ROUNDS` round trips
//! of 64-byte messages over one connection plus `CONNECTIONS` short connections (connect,
//! one round trip, close), client and server in this process. Prints one line with its
//! own CPU time (user + system, both threads) per operation, which is stable on shared
//! vCPUs where wall-clock ratios are not.
//!
//! Usage: kotel-bench-rr [ROUNDS] [CONNECTIONS]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn cpu_ns() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid `who` and out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn echo(mut conn: TcpStream) {
    let mut buf = [0u8; 64];
    while conn.read_exact(&mut buf).is_ok() {
        if conn.write_all(&buf).is_err() {
            return;
        }
    }
}

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let rounds = args.next().unwrap_or(50_000);
    let connections = args.next().unwrap_or(5_000);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            echo(conn);
        }
    });

    let (cpu0, wall0) = (cpu_ns(), Instant::now());
    let mut client = TcpStream::connect(addr).expect("connect");
    client.set_nodelay(true).expect("nodelay");
    let mut buf = [7u8; 64];
    for _ in 0..rounds {
        client.write_all(&buf).expect("write");
        client.read_exact(&mut buf).expect("read");
    }
    drop(client);
    for _ in 0..connections {
        let mut c = TcpStream::connect(addr).expect("connect");
        c.write_all(&buf).expect("write");
        c.read_exact(&mut buf).expect("read");
    }
    let (cpu, wall) = (cpu_ns() - cpu0, wall0.elapsed());
    let ops = rounds + connections;
    println!(
        "rounds={rounds} connections={connections} cpu_ns_per_op={} wall_ms={}",
        cpu / ops.max(1),
        wall.as_millis()
    );
}
