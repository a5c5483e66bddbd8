use std::time::{Duration, Instant};

use super::*;

fn c(id: &str) -> Awaited {
    Awaited::Container(id.into())
}
use crate::event::samples::tcp_event;

fn port(e: &Event) -> u16 {
    match e {
        Event::Tcp(t) => t.remote_port,
        _ => 0,
    }
}

#[test]
fn held_events_leave_in_order_when_described_or_expired_and_all_at_shutdown() {
    let t0 = Instant::now();
    let mut hold = Hold::new(Duration::from_millis(100), 10);
    assert!(hold.push(tcp_event(1), 7, c("a"), t0).is_none());
    assert!(hold.push(tcp_event(2), 8, c("b"), t0).is_none());
    assert!(hold.push(tcp_event(3), 7, c("a"), t0).is_none());
    assert!(hold.holds_cgroup(7) && hold.awaited(8) == Some(&c("b")));
    assert_eq!(hold.next_deadline(), Some(t0 + Duration::from_millis(100)));

    assert!(
        hold.take(t0, false, &|_| false).is_empty(),
        "nothing is due yet"
    );
    let out = hold.take(t0, false, &|w| *w == c("a"));
    let got: Vec<_> = out.iter().map(|(e, x, _)| (port(e), *x)).collect();
    assert_eq!(got, [(1, Exit::Described), (3, Exit::Described)]);
    assert!(!hold.holds_cgroup(7));

    let out = hold.take(t0 + Duration::from_millis(100), false, &|_| false);
    assert_eq!(
        out.iter()
            .map(|(e, x, _)| (port(e), *x))
            .collect::<Vec<_>>(),
        [(2, Exit::Expired)]
    );
    assert!(hold.is_empty());

    assert!(hold.push(tcp_event(4), 9, c("c"), t0).is_none());
    let out = hold.take(t0, true, &|_| false);
    assert_eq!(out[0].1, Exit::Shutdown);
    assert!(hold.is_empty() && hold.next_deadline().is_none());
}

#[test]
fn a_full_or_disabled_hold_gives_the_event_back() {
    let now = Instant::now();
    let mut hold = Hold::new(Duration::from_millis(100), 1);
    assert!(hold.push(tcp_event(1), 1, c("a"), now).is_none());
    assert_eq!(
        hold.push(tcp_event(2), 1, c("a"), now).map(|e| port(&e)),
        Some(2)
    );
    let mut off = Hold::new(Duration::ZERO, 10);
    assert!(!off.enabled());
    assert!(off.push(tcp_event(3), 1, c("a"), now).is_some());
}
