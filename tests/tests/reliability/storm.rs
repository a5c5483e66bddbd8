//! A loopback connection storm whose truth the test knows: client threads connecting to
//! one listener (a port of its own, which the agent's kernel filter selects), each
//! connection accepted and closed by the server side first, then by the client.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The storm: bound at once, running from [`Storm::start`] to [`Storm::stop`].
pub struct Storm {
    listener: Arc<TcpListener>,
    /// The listener's port: every connection's `server.port`.
    pub port: u16,
    made: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Storm {
    /// Binds the listener on 127.0.0.1 (nothing connects yet).
    pub fn bind() -> Storm {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().unwrap().port();
        Storm {
            listener: Arc::new(listener),
            port,
            made: Arc::default(),
            stop: Arc::default(),
            threads: Vec::new(),
        }
    }

    /// Starts `clients` threads making `per_second` connections a second between them
    /// (each: connect, the server accepts and closes, the client reads EOF and closes).
    pub fn start(&mut self, clients: u32, per_second: u32) {
        let every = Duration::from_secs_f64(f64::from(clients) / f64::from(per_second));
        for _ in 0..clients {
            let (listener, made, stop) =
                (self.listener.clone(), self.made.clone(), self.stop.clone());
            let port = self.port;
            self.threads.push(std::thread::spawn(move || {
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    one_connection(&listener, port);
                    made.fetch_add(1, Ordering::Relaxed);
                    next += every;
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    } else {
                        next = now; // behind: no burst to catch up
                    }
                }
            }));
        }
    }

    /// Makes `n` connections on this thread, one after another.
    pub fn burst(&self, n: u64) {
        for _ in 0..n {
            one_connection(&self.listener, self.port);
            self.made.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Connections completed (both ends closed) so far.
    pub fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Stops the client threads; returns every connection made.
    pub fn stop(&mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            thread.join().expect("a storm thread");
        }
        self.made()
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One connection: the connect completes the handshake on loopback, so the accept finds
/// a connection waiting (another thread's, maybe: each accept still takes one).
fn one_connection(listener: &TcpListener, port: u16) {
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (server, _) = listener.accept().expect("accept");
    drop(server);
    let _ = client.read(&mut [0u8; 1]);
}
