//! A real `tcp` source attached for a test: started on its own runtime, fed by warm-up
//! connections until it is known to be attached, collecting what it emits.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use kotel::config::ComponentId;
use kotel::event::{CgroupHistogram, Event, TcpConnEvent, TcpCounters, TcpEventKind};
use kotel::sources::tcp::{TcpSource, TcpSourceConfig};

use crate::running_source::RunningSource;
use crate::support::{self, NetnsThread};

/// The attached source and everything it has emitted so far.
pub struct Attached {
    source: RunningSource,
    /// Every tcp event received so far.
    pub seen: Vec<TcpConnEvent>,
    /// Every kernel histogram record received so far (one per cgroup, metric, interval).
    pub histograms: Vec<CgroupHistogram>,
    /// Every per-cgroup counters record received so far.
    pub counters: Vec<TcpCounters>,
    /// Listening ports of the warm-up connections, to exclude from checks: every event of
    /// a warm-up connection has one as its local or remote port. (Not their clients'
    /// ephemeral ports: a later connection may reuse one, and excluding it lost that
    /// connection's four events from a check of 64 once, on 6.1.)
    pub warmup_ports: HashSet<u16>,
}

impl Attached {
    /// Starts the source and makes warm-up connections on `ip` inside `ns` until one is
    /// reported, so that listeners opened afterwards are known to the program.
    pub fn start(ns: &NetnsThread, ip: IpAddr) -> Self {
        let config = TcpSourceConfig {
            batch_timeout: Duration::from_millis(50),
            ..TcpSourceConfig::default()
        };
        Self::start_source(
            ns,
            ip,
            TcpSource::new(&"tcp".parse::<ComponentId>().unwrap(), &config),
        )
    }

    /// [`Attached::start`] with a source the caller built (its own config, or with a
    /// filter control taken out first).
    pub fn start_source(ns: &NetnsThread, ip: IpAddr, source: TcpSource) -> Self {
        let source = RunningSource::start("tcp", Box::new(source));
        let mut attached = Self {
            source,
            seen: Vec::new(),
            histograms: Vec::new(),
            counters: Vec::new(),
            warmup_ports: HashSet::new(),
        };
        attached.warm_up(ns, ip);
        attached
    }

    fn warm_up(&mut self, ns: &NetnsThread, ip: IpAddr) {
        for _ in 0..100 {
            let port = ns
                .run(move || support::one_connection(ip))
                .expect("warm-up connection");
            self.warmup_ports.insert(port);
            self.receive(Duration::from_millis(200));
            let reported = |e: &TcpConnEvent| {
                e.netns == ns.inode && e.remote_port == port && e.kind == TcpEventKind::Connect
            };
            if self.seen.iter().any(reported) {
                return;
            }
        }
        panic!(
            "no event from the tcp source after 100 warm-up connections (is the program attached?)"
        );
    }

    /// Collects until `count(seen)` reaches `want` or 10 s pass, then 300 ms more so that
    /// anything extra shows up too.
    pub fn collect_until(&mut self, want: usize, count: impl Fn(&[TcpConnEvent]) -> usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while count(&self.seen) < want && Instant::now() < deadline {
            self.receive(Duration::from_millis(100));
        }
        self.receive(Duration::from_millis(300));
    }

    /// Stops the source and checks that it returned `Ok` within 5 s; returns every event.
    pub fn stop(self) -> Vec<TcpConnEvent> {
        self.stop_all().seen
    }

    /// Stops the source (checked like [`Attached::stop`]) and keeps what it sent while
    /// shutting down too (the last, partial metrics interval).
    pub fn stop_all(mut self) -> Stopped {
        let (seen, histograms, counters) =
            (&mut self.seen, &mut self.histograms, &mut self.counters);
        self.source.stop(|e| keep(e, seen, histograms, counters));
        Stopped {
            seen: self.seen,
            histograms: self.histograms,
            counters: self.counters,
        }
    }

    /// Collects batches for up to `wait`; panics if the source stopped.
    pub fn receive(&mut self, wait: Duration) {
        let (seen, histograms, counters) =
            (&mut self.seen, &mut self.histograms, &mut self.counters);
        self.source
            .receive(wait, |e| keep(e, seen, histograms, counters));
    }
}

/// Everything a stopped source sent.
pub struct Stopped {
    /// Lifecycle events.
    pub seen: Vec<TcpConnEvent>,
    /// Histogram records.
    pub histograms: Vec<CgroupHistogram>,
    /// Counter records.
    pub counters: Vec<TcpCounters>,
}

fn keep(
    e: Event,
    seen: &mut Vec<TcpConnEvent>,
    histograms: &mut Vec<CgroupHistogram>,
    counters: &mut Vec<TcpCounters>,
) {
    match e {
        Event::Tcp(t) => seen.push(t),
        Event::Histogram(h) => histograms.push(h),
        Event::TcpCounters(c) => counters.push(c),
        _ => {}
    }
}
