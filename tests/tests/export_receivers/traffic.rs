//! TCP traffic whose truth the test knows: n loopback connections to a fresh listener,
//! each held open by the client for a given time.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// What [`Traffic::run`] made.
pub struct Traffic {
    /// The listener's port (the `server.port` of every connection).
    pub port: u16,
    /// How long each client kept its connection, connect to close.
    pub client_lifetimes: Vec<Duration>,
}

impl Traffic {
    /// Makes `n` connections one after another to a new listener on 127.0.0.1; each
    /// client holds its connection `hold`, then closes; the server closes on EOF.
    pub fn run(n: usize, hold: Duration) -> Traffic {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for _ in 0..n {
                let (mut conn, _) = listener.accept().expect("accept");
                let _ = conn.read(&mut [0u8; 16]);
            }
        });
        let client_lifetimes = (0..n)
            .map(|_| {
                let client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
                let opened = Instant::now();
                std::thread::sleep(hold);
                drop(client);
                opened.elapsed()
            })
            .collect();
        server.join().expect("the server thread");
        Traffic {
            port,
            client_lifetimes,
        }
    }
}

/// Returns once the in-process agent's tcp source has reported a connection (making
/// connections until it does; 30 s at most). Only one agent may run at a time.
pub fn wait_until_attached() {
    let reported = || {
        kotel::telemetry::snapshot().counter_sum(
            kotel::telemetry::names::EVENTS_RECEIVED,
            &[("component_id", "tcp"), ("component_kind", "source")],
        )
    };
    // The recorder is the process's: earlier agents' counts stay in it.
    let before = reported();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reported() <= before {
        assert!(
            Instant::now() < deadline,
            "the tcp source never reported an event"
        );
        Traffic::run(1, Duration::ZERO);
        std::thread::sleep(Duration::from_millis(100));
    }
}
