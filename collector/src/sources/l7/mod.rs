//! The `l7` source: HTTP/1.x requests and responses read from socket syscalls, one
//! [`HttpEvent`](crate::event::HttpEvent) per exchange (a span and RED metrics
//! downstream), without touching the applications.
//!
//! Kernel programs (`ebpf/probes/src/bin/kotel-l7`) follow TCP sockets from `connect` and
//! `accept` to `close` and copy the first bytes of every read and write on them
//! ([`plan`], [`loader`]); user space decodes the records ([`records`]), frames each
//! direction into messages ([`stream`], [`http1`]) and pairs requests with responses
//! ([`tracker`]), with `http.route` bounded by [`route`]. Connections established before
//! the source started are found in `/proc` and followed too (`adopt`).
//!
//! Contract: [`L7Source::new`] touches nothing outside the process.
//! [`Source::run`](crate::component::Source::run) loads, applies the kernel filter and
//! attaches (failures are `ComponentError::Startup` with the reason), emits `Event::Http`
//! batches until shutdown, then detaches. Requests unanswered past `request_timeout` are
//! ended every second. Stats go to [`KERNEL_EVENTS`]`{stat}`, [`tracker::SKIPPED`] and
//! [`tracker::EXCHANGES`].

mod adopt;
mod config;
pub mod http1;
mod ids;
mod loader;
pub mod plan;
pub mod records;
pub mod route;
pub mod stream;
pub mod tracker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use config::{L7SourceConfig, MIN_CAPTURE_BYTES, MIN_RING_BUFFER_BYTES};
use kotel_common::l7::{names, L7Stat};

use crate::component::{BoxFuture, ComponentError};
use crate::event::Event;
use crate::kernel::batcher::DecodeFailure;
use crate::kernel::clock::{monotonic_now_ns, ClockOffset};
use crate::kernel::source::{
    ring_settings, Attached, KernelProgram, KernelSource, KernelSourceConfig, Periodic,
    RecordDecoder, RingMaps,
};
use crate::kernel::spec::LoadPlan;
use crate::settings::{ConfigError, Signal};
use records::Record;
use route::Routes;
use tracker::{Limits, Tracker};

/// Counter: the `l7` kernel programs' own stats. Labels: `stat` (an `L7Stat` name:
/// `opened`, `closed`, `data`, `ringbuf_full`, `filtered`, `not_tcp`, `socket_unread`,
/// `tls`, `other_protocol`, `slot_lost`, `capture_failed`, `sendfile`, `duplicated`).
pub const KERNEL_EVENTS: &str = "kotel.source.l7.kernel_events";

/// The `l7` kernel programs.
pub struct L7;

/// The `l7` source, built from its config; attaches to the kernel only in `run`.
pub type L7Source = KernelSource<L7>;

/// Decodes records into the tracker.
pub struct L7Decoder {
    tracker: Arc<Mutex<Tracker>>,
}

impl RecordDecoder for L7Decoder {
    fn decode(
        &mut self,
        record: &[u8],
        _: &ClockOffset,
        out: &mut Vec<Event>,
    ) -> Result<(), DecodeFailure> {
        let record = Record::parse(record).map_err(|e| (e.reason(), e.to_string()))?;
        lock(&self.tracker).record(record, out);
        Ok(())
    }
}

/// Ends what timed out, every second.
pub struct Sweep {
    tracker: Arc<Mutex<Tracker>>,
}

impl Periodic for Sweep {
    fn interval(&self) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }

    fn collect(&mut self) -> BoxFuture<'_, Vec<Event>> {
        let mut out = Vec::new();
        lock(&self.tracker).sweep(monotonic_now_ns(), &mut out);
        Box::pin(async move { out })
    }
}

/// The tracker, whatever a panicking holder left (it holds no invariant across calls).
fn lock(tracker: &Mutex<Tracker>) -> std::sync::MutexGuard<'_, Tracker> {
    tracker.lock().unwrap_or_else(|e| e.into_inner())
}

impl KernelProgram for L7 {
    type Config = L7SourceConfig;
    type Held = ();
    type Decoder = L7Decoder;
    type Periodic = Sweep;

    fn ring() -> RingMaps {
        RingMaps {
            events_map: names::EVENTS,
            stats_map: names::STATS,
            metric: KERNEL_EVENTS,
            stats: L7Stat::ALL.map(L7Stat::name).to_vec(),
            ringbuf_full: L7Stat::RingbufFull as usize,
        }
    }

    fn attach(source: &str, config: &L7SourceConfig) -> Result<Attached<()>, ComponentError> {
        loader::attach(source, config)
    }

    fn reader(
        source: &str,
        config: &L7SourceConfig,
        attached: &mut Attached<()>,
    ) -> Result<(L7Decoder, Sweep), ComponentError> {
        let limits = Limits {
            request_timeout: config.request_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
        };
        let (routes, _) = Routes::new(&config.routes);
        let mut tracker = Tracker::new(
            source,
            limits,
            routes,
            ClockOffset::now(),
            config.proc_dir(),
        );
        let adopted = adopt::adopt(&mut attached.ebpf, config, &mut tracker);
        tracing::info!(
            component = %source,
            connections = adopted,
            "l7 source follows the TCP connections established before it started"
        );
        let tracker = Arc::new(Mutex::new(tracker));
        Ok((
            L7Decoder {
                tracker: Arc::clone(&tracker),
            },
            Sweep { tracker },
        ))
    }
}

impl KernelSourceConfig for L7SourceConfig {
    type Program = L7;
    const KIND: &'static str = "l7";
    const SIGNALS: &'static [Signal] = &[Signal::Traces, Signal::Metrics];

    fn problems(&self) -> Vec<ConfigError> {
        self.validate()
    }

    fn plan(&self) -> LoadPlan {
        plan::plan(
            self,
            &plan::KernelFacts::of_running_kernel(&self.proc_dir()),
        )
    }

    ring_settings!();
}
