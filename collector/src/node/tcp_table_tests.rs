use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

use super::*;

#[test]
fn table_lines_give_established_sockets_and_listening_ports() {
    let mut table = Table::default();
    // As this (little-endian) machine prints them: 127.0.0.1:8080 listening, one
    // established connection to it, and an IPv6 one.
    let word = |ip: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(ip));
    let v4 = format!(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
         0: {lo}:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 100 1 0 100 0 0 10 0\n\
         1: {lo}:1F90 {lo}:9C40 01 00000000:00000000 00:00000000 00000000     0        0 101 1 0 20 4 30 10 -1\n\
         2: {lo}:9C40 {lo}:1F90 01 00000000:00000000 00:00000000 00000000     0        0 102 1 0 20 4 30 10 -1\n\
         garbage line\n",
        lo = word([127, 0, 0, 1])
    );
    table.add(&v4);
    let v6_words: String = [[0xfd, 0, 0, 0], [0; 4], [0; 4], [0, 0, 0, 7]]
        .iter()
        .map(|w| word(*w))
        .collect();
    let v6 = format!(
        "  sl  local_address                         remote_address                        st\n\
         0: {v6_words}:0050 {v6_words}:A000 01 00000000:00000000 00:00000000 00000000     0        0 103 1\n"
    );
    table.add(&v6);
    assert_eq!(table.listening, HashSet::from([8080]));
    assert_eq!(
        table.established[&101],
        (
            "127.0.0.1:8080".parse().unwrap(),
            "127.0.0.1:40000".parse().unwrap()
        )
    );
    assert_eq!(table.established[&102].0.port(), 40000);
    assert_eq!(
        table.established[&103],
        (
            "[fd00::7]:80".parse().unwrap(),
            "[fd00::7]:40960".parse().unwrap()
        )
    );
    assert_eq!(table.established.len(), 3);
}

#[test]
fn this_process_connections_are_found_with_their_side() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let found = established(Path::new("/proc"), 0, usize::MAX);
    let me = std::process::id();
    let of = |fd: i32| {
        found
            .iter()
            .find(|c| c.tgid == me && c.fd == fd as u32)
            .unwrap_or_else(|| panic!("fd {fd} not found in {found:?}"))
    };
    let (c, s) = (of(client.as_raw_fd()), of(server.as_raw_fd()));
    assert_eq!(
        (c.local, c.peer),
        (client.local_addr().unwrap(), client.peer_addr().unwrap())
    );
    assert_eq!((s.local, s.peer), (c.peer, c.local));
    assert!(s.accepted && !c.accepted, "{s:?} {c:?}");
    assert!(!c.comm.is_empty());
    // Skipped: the listener is not established, and a skipped process gives nothing.
    assert!(!found
        .iter()
        .any(|x| x.tgid == me && x.fd == listener.as_raw_fd() as u32));
    assert!(!established(Path::new("/proc"), me, usize::MAX)
        .iter()
        .any(|x| x.tgid == me));
    assert_eq!(established(Path::new("/proc"), 0, 1).len(), 1);
}
