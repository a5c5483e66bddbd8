//! A backend that accepts and stalls: an in-process listener on 127.0.0.1 that completes
//! the HTTP/2 connection preface (its SETTINGS, and an ACK of the client's) and then
//! never answers a request, until [`StallingBackend::forward_to`] turns it into a plain
//! TCP relay to a real receiver (closing the stalled connections, so clients reconnect).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// An empty SETTINGS frame (length 0, type 4, no flags, stream 0).
const SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];
/// A SETTINGS frame with the ACK flag.
const SETTINGS_ACK: [u8; 9] = [0, 0, 0, 4, 1, 0, 0, 0, 0];
/// The client connection preface's length (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`).
const PREFACE_LEN: usize = 24;

/// The backend; its thread runs until the test process ends.
pub struct StallingBackend {
    /// The port it listens on.
    pub port: u16,
    /// 0: stall; otherwise the port to relay new connections to.
    target: Arc<AtomicU16>,
    stalled: Arc<Mutex<Vec<TcpStream>>>,
    accepted: Arc<AtomicUsize>,
}

impl StallingBackend {
    /// Listens on a free port and stalls every connection.
    pub fn start() -> StallingBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(AtomicU16::new(0));
        let stalled = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (t, s, a) = (target.clone(), stalled.clone(), accepted.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                match t.load(Ordering::SeqCst) {
                    0 => {
                        a.fetch_add(1, Ordering::SeqCst);
                        s.lock().unwrap().push(conn.try_clone().unwrap());
                        std::thread::spawn(move || stall(conn));
                    }
                    port => relay(conn, port),
                }
            }
        });
        StallingBackend {
            port,
            target,
            stalled,
            accepted,
        }
    }

    /// Connections accepted (and stalled) before [`StallingBackend::forward_to`].
    pub fn stalled_connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// From now on relays new connections to `127.0.0.1:port`, and closes the stalled ones.
    pub fn forward_to(&self, port: u16) {
        self.target.store(port, Ordering::SeqCst);
        for conn in self.stalled.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

/// Completes the HTTP/2 handshake, then reads (and ignores) everything until EOF.
fn stall(mut conn: TcpStream) {
    let mut handshake = || -> io::Result<()> {
        conn.write_all(&SETTINGS)?;
        let mut preface = [0u8; PREFACE_LEN];
        conn.read_exact(&mut preface)?;
        loop {
            let mut header = [0u8; 9];
            conn.read_exact(&mut header)?;
            let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as u64;
            io::copy(&mut (&mut conn).take(len), &mut io::sink())?;
            let (kind, flags) = (header[3], header[4]);
            if kind == 4 && flags & 1 == 0 {
                conn.write_all(&SETTINGS_ACK)?;
            }
        }
    };
    let _ = handshake();
}

/// Copies bytes both ways between `conn` and `127.0.0.1:port` until either side closes.
fn relay(conn: TcpStream, port: u16) {
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Write);
        });
    };
    pipe(conn.try_clone().unwrap(), upstream.try_clone().unwrap());
    pipe(upstream, conn);
}
