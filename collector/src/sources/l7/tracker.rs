//! Followed connections and the requests on them: records in, one [`HttpEvent`] per
//! request out.
//!
//! Contract:
//! - Requests are answered in order (HTTP/1.1 pipelining): the n-th final response on a
//!   connection answers its n-th request; 1xx responses answer none.
//! - An exchange ends when its response body ends (by its framing), when the response
//!   head is all that can be followed (a head longer than the capture), or when the
//!   connection closes (a body framed by the close ends there; a request without a
//!   response ends with [`HttpFailure::ConnectionClosed`]). A request still unanswered
//!   `request_timeout` after it started ends with [`HttpFailure::Timeout`] at
//!   [`Tracker::sweep`]; a response under way is never cut by it.
//! - A connection opened again under the same descriptor (its close was not seen) ends
//!   the old one first, as a close: no state outlives its descriptor. A connection idle
//!   for `idle_timeout` with nothing pending is forgotten unless its descriptor is still
//!   open in `/proc` (a process that exited without closing it).
//! - Ids: a request with a `traceparent` joins its trace (a server span under the
//!   caller's span; a client span is the caller's span itself). Otherwise a server span
//!   whose client is on this node (the client's local address is the server's peer) joins
//!   the client span of the same request on that connection; else a new trace. Such a
//!   server span whose client request has not been seen yet (the client's write record
//!   can come after the server's answer) is held for it up to `JOIN_WAIT_NS` of kernel
//!   time, then sent unjoined.
//! - A client's response read before its request's record came (separate reader and
//!   writer threads) waits for that request up to `JOIN_WAIT_NS`, and answers it when
//!   the request started before the response was read; else it is counted as
//!   `response_without_request`.
//! - A `101 Switching Protocols` or a `2xx` to `CONNECT` ends its exchange at the head;
//!   the connection is a tunnel from then on and is no longer parsed.
//! - Whatever is dropped is counted in [`SKIPPED`]`{source,reason}`; each exchange in
//!   [`EXCHANGES`]`{source,outcome}`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::event::{Event, HttpEvent, HttpFailure, HttpMethod, HttpSide, SpanId, TraceId};
use crate::kernel::clock::ClockOffset;

use super::http1::{narrowed, Framing, RequestHead, ResponseHead};
use super::ids::Ids;
use super::records::{ConnKey, Header, Opened, Record};
use super::route::Routes;
use super::stream::{At, Chunk, Step, Stream};

/// Counter: what the `l7` source dropped in user space. Labels: `source`, `reason`
/// (`start_line`, `header`, `content_length`, `head_too_long`, `chunk`: bytes that are
/// not HTTP/1.x; `head_cut`: a head longer than the capture (what its captured lines say
/// is kept, its body not followed); `framing_lost`: body framing beyond the capture;
/// `unknown_connection`:
/// data of a connection not followed here; `response_without_request`;
/// `pending_overflow`; `connections_full`; `idle_expired`; `tls`, `other_protocol`:
/// connections the kernel stopped following; `records_lost`: a record starts past where
/// the previous one of its direction ended (lost in a full ring or a taken slot: that
/// direction's framing starts over); `exchange_lost`: the request given up then, its
/// response lost with them).
pub const SKIPPED: &str = "kotel.source.l7.skipped";
/// Counter: HTTP exchanges ended. Labels: `source`, `outcome` (`answered`, `timeout`,
/// `connection_closed`).
pub const EXCHANGES: &str = "kotel.source.l7.exchanges";

/// The hasher of the per-record maps: keys come from the kernel, not from peers, and
/// SipHash was a tenth of the agent's time per request.
type FastHash = foldhash::fast::RandomState;

/// Requests waiting for their responses on one connection, at most; an older one is
/// dropped (counted `pending_overflow`).
pub const MAX_PENDING: usize = 64;
/// Client requests remembered after they end, per connection, for a server span on this
/// node to join.
const RECENT: usize = 16;
/// How long a server span whose client is on this node waits for that client's request
/// record (kernel ns): the client's write can reach the ring after the server has read
/// and answered it (its exit comes after the bytes were delivered).
const JOIN_WAIT_NS: u64 = 100_000_000;
/// Server spans waiting so at most; beyond, the oldest goes out unjoined.
const MAX_HELD: usize = 4096;

/// Limits of the tracker.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// How long a request waits for its response.
    pub request_timeout: Duration,
    /// How long a connection with nothing pending stays followed without a record.
    pub idle_timeout: Duration,
    /// Connections followed at once; more are not followed (counted).
    pub max_connections: usize,
}

/// A request waiting for (the end of) its response.
struct Pending {
    head: RequestHead,
    /// Its index on the connection (0 for the first request).
    index: u64,
    start_ns: u64,
    trace: TraceId,
    span: SpanId,
    parent: Option<SpanId>,
    /// Whether its ids came from a `traceparent`.
    propagated: bool,
    /// Its method and target, hashed: what a server request and the client request it
    /// is must share to be joined.
    fingerprint: u64,
    response: Option<ResponseHead>,
}

/// A server span waiting for the request record of its client on this node.
struct Held {
    event: HttpEvent,
    /// The client's connection.
    client: ConnKey,
    fingerprint: u64,
    /// When the server's request started (kernel ns): the client's began before.
    start_ns: u64,
    /// When it goes out unjoined (kernel ns).
    until_ns: u64,
}

/// A client's response read before the record of its request came: a client whose
/// reader and writer are separate threads (Go's `net/http`) can read the answer before
/// its write's exit reaches the ring. Held until that request comes, for `JOIN_WAIT_NS`.
struct Early {
    head: ResponseHead,
    /// When its head was read (kernel ns).
    at_ns: u64,
    /// When its body ended, once it has.
    ended: Option<u64>,
}

/// A client request's ids, kept for the server span of the same request.
#[derive(Clone, Copy)]
struct Sent {
    index: u64,
    fingerprint: u64,
    trace: TraceId,
    span: SpanId,
}

struct Conn {
    opened_ns: u64,
    meta: Arc<Opened>,
    last_ns: u64,
    requests: Stream<RequestHead>,
    responses: Stream<ResponseHead>,
    pending: VecDeque<Pending>,
    next_index: u64,
    /// Client connections: the ids of requests already ended.
    recent: VecDeque<Sent>,
    /// The connection switched protocols (101, CONNECT): its bytes are no longer parsed.
    tunnel: bool,
    /// Where the next record of each direction starts (`[received, sent]` bytes; both
    /// count from the open, or from the agent's start for a connection found open): a
    /// record starting later follows lost ones.
    next_offset: [Option<u64>; 2],
    /// Client connections: the index of the last request a server span on this node
    /// joined (requests are joined in order).
    joined: Option<u64>,
    /// Client connections: a response waiting for its request's record.
    early: Option<Early>,
}

/// The connections of one source.
pub struct Tracker {
    skips: Skips,
    proc_dir: PathBuf,
    limits: Limits,
    routes: Routes,
    ids: Ids,
    clock: ClockOffset,
    conns: HashMap<ConnKey, Conn, FastHash>,
    /// Client connections by their local address.
    clients: HashMap<SocketAddr, ConnKey, FastHash>,
    request_steps: Vec<Step<RequestHead>>,
    response_steps: Vec<Step<ResponseHead>>,
    /// Scratch: the methods of the requests not answered yet.
    methods: Vec<&'static str>,
    /// Server spans waiting for their client's request, oldest first.
    held: VecDeque<Held>,
    answered: metrics::Counter,
    timed_out: metrics::Counter,
    closed: metrics::Counter,
}

impl Tracker {
    /// A tracker for source `source` (the `source` label); `proc_dir` is the host's
    /// `/proc`, where a connection idle past `idle_timeout` is looked for (its descriptor
    /// still open: kept).
    pub fn new(
        source: &str,
        limits: Limits,
        routes: Routes,
        clock: ClockOffset,
        proc_dir: PathBuf,
    ) -> Self {
        let outcome = |o: &'static str| metrics::counter!(EXCHANGES, "source" => source.to_string(), "outcome" => o);
        Self {
            skips: Skips {
                source: source.to_string(),
                counters: HashMap::new(),
            },
            proc_dir,
            limits,
            routes,
            ids: Ids::default(),
            clock,
            conns: HashMap::default(),
            clients: HashMap::default(),
            request_steps: Vec::new(),
            response_steps: Vec::new(),
            methods: Vec::new(),
            held: VecDeque::new(),
            answered: outcome("answered"),
            timed_out: outcome("timeout"),
            closed: outcome("connection_closed"),
        }
    }

    /// Connections followed now.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Takes one record; appends the exchanges it ended to `out`.
    pub fn record(&mut self, record: Record, out: &mut Vec<Event>) {
        match record {
            Record::Open(header, opened) => self.open(header, opened, out),
            Record::Data {
                header,
                send,
                bytes,
            } => self.data(&header, send, bytes, out),
            Record::Close(header) => {
                if self.is_current(&header) {
                    self.end(header.key, header.start_ns, out);
                }
            }
            Record::Ignored { header, tls } => {
                if self.is_current(&header) {
                    self.skips.count(if tls { "tls" } else { "other_protocol" });
                    self.forget(header.key);
                }
            }
        }
    }

    fn is_current(&self, header: &Header) -> bool {
        self.conns
            .get(&header.key)
            .is_some_and(|c| c.opened_ns == header.opened_ns)
    }

    fn open(&mut self, header: Header, opened: Opened, out: &mut Vec<Event>) {
        if self.conns.contains_key(&header.key) {
            self.end(header.key, header.start_ns, out);
        }
        if self.conns.len() >= self.limits.max_connections {
            self.skips.count("connections_full");
            return;
        }
        if !opened.server {
            self.clients.insert(opened.local, header.key);
        }
        self.conns.insert(
            header.key,
            Conn {
                opened_ns: header.opened_ns,
                meta: Arc::new(opened),
                last_ns: header.end_ns,
                requests: Stream::default(),
                responses: Stream::default(),
                pending: VecDeque::new(),
                next_index: 0,
                recent: VecDeque::new(),
                tunnel: false,
                next_offset: [Some(0), Some(0)],
                joined: None,
                early: None,
            },
        );
    }

    fn data(&mut self, header: &Header, send: bool, bytes: &[u8], out: &mut Vec<Event>) {
        self.release_held(header.end_ns, out);
        let Some(conn) = self
            .conns
            .get_mut(&header.key)
            .filter(|c| c.opened_ns == header.opened_ns)
        else {
            self.skips.count("unknown_connection");
            return;
        };
        conn.last_ns = header.end_ns;
        if conn.tunnel {
            return;
        }
        let next = &mut conn.next_offset[usize::from(send)];
        let gap = next.is_some_and(|n| header.offset > n);
        *next = Some(header.offset.saturating_add(header.size));
        if gap {
            self.skips.count("records_lost");
            self.resync(header.key, send);
        }
        let Some(conn) = self.conns.get_mut(&header.key) else {
            return;
        };
        let chunk = Chunk {
            bytes,
            size: header.size,
            at: At {
                start_ns: header.start_ns,
                end_ns: header.end_ns,
            },
        };
        // Requests are what the client writes and the server reads.
        if send != conn.meta.server {
            let mut steps = std::mem::take(&mut self.request_steps);
            conn.requests.feed(&chunk, &[], &mut steps);
            for step in steps.drain(..) {
                self.request_step(header.key, step, out);
            }
            self.request_steps = steps;
        } else {
            let mut methods = std::mem::take(&mut self.methods);
            methods.clear();
            methods.extend(
                conn.pending
                    .iter()
                    .filter(|p| p.response.is_none())
                    .map(|p| p.head.method),
            );
            let mut steps = std::mem::take(&mut self.response_steps);
            conn.responses.feed(&chunk, &methods, &mut steps);
            self.methods = methods;
            for step in steps.drain(..) {
                self.response_step(header.key, step, out);
            }
            self.response_steps = steps;
        }
    }

    /// After records of `key` were lost in one direction (`send`: what it wrote): that
    /// direction's framing starts over at the next message, and when responses were lost,
    /// the oldest request waiting for one is given up (without pipelining, the only one
    /// whose response can have been in them), so later responses pair with their own
    /// requests rather than one too early.
    fn resync(&mut self, key: ConnKey, send: bool) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        if send != conn.meta.server {
            conn.requests = Stream::default();
        } else {
            conn.responses = Stream::default();
            if conn.pending.pop_front().is_some() {
                self.skips.count("exchange_lost");
            }
        }
    }

    fn request_step(&mut self, key: ConnKey, step: Step<RequestHead>, out: &mut Vec<Event>) {
        match step {
            Step::Head { head, at, framed } => {
                if !framed {
                    self.skips.count("head_cut");
                }
                let Some(conn) = self.conns.get_mut(&key) else {
                    return;
                };
                let server = conn.meta.server;
                // A server's request starts when its bytes arrive, a client's when it
                // starts writing them.
                let start_ns = if server { at.end_ns } else { at.start_ns };
                let (trace, span, parent, propagated) = match head.traceparent {
                    Some(tp) if server => {
                        (tp.trace_id, self.ids.span_id(), Some(tp.parent_id), true)
                    }
                    Some(tp) => (tp.trace_id, tp.parent_id, None, true),
                    None => (self.ids.trace_id(), self.ids.span_id(), None, false),
                };
                let index = conn.next_index;
                conn.next_index += 1;
                if conn.pending.len() >= MAX_PENDING {
                    conn.pending.pop_front();
                    self.skips.count("pending_overflow");
                }
                let fingerprint = fingerprint(&head);
                if !server {
                    self.join_held(key, fingerprint, (index, start_ns, trace, span), out);
                }
                let Some(conn) = self.conns.get_mut(&key) else {
                    return;
                };
                conn.pending.push_back(Pending {
                    head,
                    index,
                    start_ns,
                    trace,
                    span,
                    parent,
                    propagated,
                    fingerprint,
                    response: None,
                });
                if let Some(early) = conn.early.take() {
                    self.answer_early(key, early, start_ns, out);
                }
            }
            Step::End(_) => {}
            Step::Invalid(e) => self.skips.count(e.reason()),
            Step::Lost(_) => self.skips.count("framing_lost"),
        }
    }

    fn response_step(&mut self, key: ConnKey, step: Step<ResponseHead>, out: &mut Vec<Event>) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        match step {
            Step::Head { head, at, framed } => {
                if head.is_interim() {
                    return;
                }
                let Some(p) = conn.pending.iter_mut().find(|p| p.response.is_none()) else {
                    // A client's answer may come before its request's record (`Early`);
                    // anything else, or a second one, answers nothing seen.
                    let early = !conn.meta.server && framed && head.status != 101;
                    let displaced = early
                        && conn
                            .early
                            .replace(Early {
                                head,
                                at_ns: at.end_ns,
                                ended: None,
                            })
                            .is_some();
                    if !early || displaced {
                        self.skips.count("response_without_request");
                    }
                    return;
                };
                // A switch of protocols (101) or a CONNECT tunnel: the exchange ends with
                // the head, and what follows on the connection is not HTTP/1.x.
                let tunnel = head.status == 101
                    || (p.head.method == "CONNECT" && (200..300).contains(&head.status));
                p.response = Some(head);
                if tunnel {
                    conn.tunnel = true;
                    self.finish_front(key, at.end_ns, None, out);
                } else if !framed {
                    self.skips.count("head_cut");
                    self.finish_front(key, at.end_ns, None, out);
                }
            }
            Step::End(at) => self.response_ended(key, at.end_ns, out),
            Step::Invalid(e) => self.skips.count(e.reason()),
            Step::Lost(at) => {
                self.skips.count("framing_lost");
                self.response_ended(key, at.end_ns, out);
            }
        }
    }

    /// The response body under way on `key` ended at `end_ns` (by its framing, or where
    /// the framing was lost): its exchange ends, or a response held for its request
    /// (`Early`) keeps the time.
    fn response_ended(&mut self, key: ConnKey, end_ns: u64, out: &mut Vec<Event>) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        if conn.pending.front().is_some_and(|p| p.response.is_some()) {
            self.finish_front(key, end_ns, None, out);
        } else if let Some(early) = &mut conn.early {
            early.ended.get_or_insert(end_ns);
        }
    }

    /// A request of `key` that started at `start_ns` came after `early`, a response read
    /// before it: the response is its answer when the request started before it was read
    /// (responses come in order: the first request still unanswered); else it answered a
    /// request never seen.
    fn answer_early(&mut self, key: ConnKey, early: Early, start_ns: u64, out: &mut Vec<Event>) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let waiting = conn.pending.iter_mut().find(|p| p.response.is_none());
        let Some(p) = waiting.filter(|_| start_ns <= early.at_ns) else {
            self.skips.count("response_without_request");
            return;
        };
        p.response = Some(early.head);
        let index = p.index;
        let Some(end_ns) = early.ended else {
            return;
        };
        if conn.pending.front().is_some_and(|f| f.index == index) {
            self.finish_front(key, end_ns, None, out);
        }
    }

    /// Ends the oldest request of `key` at `end_ns`.
    fn finish_front(
        &mut self,
        key: ConnKey,
        end_ns: u64,
        failure: Option<HttpFailure>,
        out: &mut Vec<Event>,
    ) {
        let Some(p) = self.conns.get_mut(&key).and_then(|c| c.pending.pop_front()) else {
            return;
        };
        self.emit(key, p, end_ns, failure, out);
    }

    /// Ends `key`'s connection at `at_ns`: bodies framed by the close end, requests
    /// without a response fail.
    fn end(&mut self, key: ConnKey, at_ns: u64, out: &mut Vec<Event>) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let pending = std::mem::take(&mut conn.pending);
        let until_close = conn.responses.until_close();
        if conn.early.take().is_some() {
            self.skips.count("response_without_request");
        }
        for p in pending {
            let failure = match &p.response {
                Some(r) if until_close || r.framing == Framing::None => None,
                Some(_) | None => Some(HttpFailure::ConnectionClosed),
            };
            self.emit(key, p, at_ns, failure, out);
        }
        self.forget(key);
    }

    fn forget(&mut self, key: ConnKey) {
        if let Some(conn) = self.conns.remove(&key) {
            if !conn.meta.server && self.clients.get(&conn.meta.local) == Some(&key) {
                self.clients.remove(&conn.meta.local);
            }
        }
    }

    /// Ends requests unanswered past `request_timeout` and forgets connections idle past
    /// `idle_timeout`, as of kernel monotonic time `now_ns`.
    pub fn sweep(&mut self, now_ns: u64, out: &mut Vec<Event>) {
        self.release_held(now_ns, out);
        let timeout = self.limits.request_timeout.as_nanos() as u64;
        let idle = self.limits.idle_timeout.as_nanos() as u64;
        let mut expired = Vec::new();
        let mut idle_keys = Vec::new();
        // Only a request with no response yet times out: a response under way (a long
        // download, a stream) ends with its body or the connection.
        let unanswered_since =
            |p: &Pending| p.response.is_none() && now_ns.saturating_sub(p.start_ns) >= timeout;
        let mut stale_early = Vec::new();
        for (key, conn) in &self.conns {
            if conn
                .early
                .as_ref()
                .is_some_and(|e| e.at_ns.saturating_add(JOIN_WAIT_NS) <= now_ns)
            {
                stale_early.push(*key);
            }
            if conn.pending.front().is_some_and(unanswered_since) {
                expired.push(*key);
            } else if conn.pending.is_empty() && now_ns.saturating_sub(conn.last_ns) >= idle {
                idle_keys.push(*key);
            }
        }
        for key in stale_early {
            if let Some(conn) = self.conns.get_mut(&key) {
                conn.early = None;
                self.skips.count("response_without_request");
            }
        }
        for key in expired {
            while self
                .conns
                .get(&key)
                .is_some_and(|c| c.pending.front().is_some_and(unanswered_since))
            {
                self.finish_front(key, now_ns, Some(HttpFailure::Timeout), out);
            }
        }
        for key in idle_keys {
            // A descriptor still open is a quiet keep-alive connection, not a dead one.
            let fd = self.proc_dir.join(format!("{}/fd/{}", key.tgid, key.fd));
            if fd.exists() {
                if let Some(conn) = self.conns.get_mut(&key) {
                    conn.last_ns = now_ns;
                }
                continue;
            }
            self.skips.count("idle_expired");
            self.forget(key);
        }
    }

    /// The event of request `p` on `key`, ended at `end_ns`.
    fn emit(
        &mut self,
        key: ConnKey,
        mut p: Pending,
        end_ns: u64,
        failure: Option<HttpFailure>,
        out: &mut Vec<Event>,
    ) {
        let Some(conn) = self.conns.get_mut(&key) else {
            return;
        };
        let meta = Arc::clone(&conn.meta);
        let (mut trace, mut parent) = (p.trace, p.parent);
        let mut wait_for = None;
        if meta.server {
            if !p.propagated {
                match self.client_of(&meta, p.fingerprint) {
                    Some((client, Some(sent))) => {
                        trace = sent.trace;
                        parent = Some(sent.span);
                        if let Some(conn) = self.conns.get_mut(&client) {
                            conn.joined = Some(sent.index);
                        }
                    }
                    Some((client, None)) => wait_for = Some(client),
                    None => {}
                }
            }
        } else {
            if conn.recent.len() >= RECENT {
                conn.recent.pop_front();
            }
            conn.recent.push_back(Sent {
                index: p.index,
                fingerprint: p.fingerprint,
                trace: p.trace,
                span: p.span,
            });
        }
        let outcome = match failure {
            None => &self.answered,
            Some(HttpFailure::Timeout) => &self.timed_out,
            Some(HttpFailure::ConnectionClosed) => &self.closed,
        };
        outcome.increment(1);
        let response = p.response.as_ref();
        let status = response.map_or(0, |r| r.status);
        let response_body_bytes = response.and_then(|r| body_bytes(r.framing));
        let (method, version) = (HttpMethod::new(p.head.method), p.head.version);
        let request_body_bytes = body_bytes(p.head.framing);
        let host_port = p.head.host.as_deref().and_then(|h| split_host(h).1);
        let host = narrowed(p.head.host.take().unwrap_or_default(), |h| split_host(h).0);
        let sampled = p.head.traceparent.map(|tp| tp.flags & 1 == 1);
        let path = p.head.into_path();
        let event = HttpEvent {
            side: if meta.server {
                HttpSide::Server
            } else {
                HttpSide::Client
            },
            start_time_unix_nano: self.clock.unix_nanos(p.start_ns),
            end_time_unix_nano: self.clock.unix_nanos(end_ns.max(p.start_ns)),
            pid: key.tgid,
            comm: Arc::clone(&meta.comm),
            cgroup_id: meta.cgroup_id,
            method,
            // A path nothing answers has no route (and scanners' paths no series).
            route: if status == 404 {
                String::new()
            } else {
                self.routes.route(&path)
            },
            path,
            version,
            status,
            host,
            host_port,
            local_address: meta.local.ip(),
            local_port: meta.local.port(),
            peer_address: meta.peer.ip(),
            peer_port: meta.peer.port(),
            request_body_bytes,
            response_body_bytes,
            trace_id: trace,
            span_id: p.span,
            parent_span_id: parent,
            sampled,
            failure,
            workload: None,
        };
        match wait_for {
            Some(client) => {
                if self.held.len() >= MAX_HELD {
                    self.release_oldest(out);
                }
                self.held.push_back(Held {
                    event,
                    client,
                    fingerprint: p.fingerprint,
                    start_ns: p.start_ns,
                    until_ns: end_ns.saturating_add(JOIN_WAIT_NS),
                });
            }
            None => out.push(Event::Http(event)),
        }
    }

    /// A client request of `key` has started: the held server span of the same request
    /// (same fingerprint, started after it) joins it and goes out. `sent` is the
    /// request's index, start (kernel ns), trace and span.
    fn join_held(
        &mut self,
        key: ConnKey,
        fingerprint: u64,
        sent: (u64, u64, TraceId, SpanId),
        out: &mut Vec<Event>,
    ) {
        let (index, start_ns, trace, span) = sent;
        let Some(at) = self.held.iter().position(|h| {
            h.client == key && h.fingerprint == fingerprint && start_ns <= h.start_ns
        }) else {
            return;
        };
        let Some(mut held) = self.held.remove(at) else {
            return;
        };
        held.event.trace_id = trace;
        held.event.parent_span_id = Some(span);
        if let Some(conn) = self.conns.get_mut(&key) {
            conn.joined = Some(index);
        }
        out.push(Event::Http(held.event));
    }

    /// Sends the held server spans whose wait ended by `now_ns`, unjoined.
    fn release_held(&mut self, now_ns: u64, out: &mut Vec<Event>) {
        while self.held.front().is_some_and(|h| h.until_ns <= now_ns) {
            self.release_oldest(out);
        }
    }

    fn release_oldest(&mut self, out: &mut Vec<Event>) {
        if let Some(held) = self.held.pop_front() {
            out.push(Event::Http(held.event));
        }
    }

    /// The client connection on this node whose connection a server connection `server`
    /// accepted, and the ids of the request a server request with `fingerprint` is, if
    /// its record has come: the first with that fingerprint after the last one joined.
    /// Not the one at the same index: a side that missed requests (a lost record, a
    /// connection found open) counts them differently.
    fn client_of(&self, server: &Opened, fingerprint: u64) -> Option<(ConnKey, Option<Sent>)> {
        let key = *self.clients.get(&server.peer)?;
        let client = self.conns.get(&key)?;
        // Loopback addresses repeat in every network namespace: both ends must agree.
        if server.peer.ip().is_loopback() && client.meta.peer != server.local {
            return None;
        }
        let sent = client
            .recent
            .iter()
            .copied()
            .chain(client.pending.iter().map(|p| Sent {
                index: p.index,
                fingerprint: p.fingerprint,
                trace: p.trace,
                span: p.span,
            }));
        let after = client.joined;
        let sent = sent
            .filter(|s| s.fingerprint == fingerprint && after.is_none_or(|j| s.index > j))
            .min_by_key(|s| s.index);
        Some((key, sent))
    }
}

/// The [`SKIPPED`] counters of one source, made once per reason.
struct Skips {
    source: String,
    counters: HashMap<&'static str, metrics::Counter>,
}

impl Skips {
    fn count(&mut self, reason: &'static str) {
        let source = &self.source;
        self.counters
            .entry(reason)
            .or_insert_with(
                || metrics::counter!(SKIPPED, "source" => source.clone(), "reason" => reason),
            )
            .increment(1);
    }
}

/// A request's method and target, hashed (FNV-1a: the same everywhere, and cheap for
/// the short strings targets are).
fn fingerprint(head: &RequestHead) -> u64 {
    let bytes = head.method.bytes().chain([b' ']).chain(head.target.bytes());
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn body_bytes(framing: Framing) -> Option<u64> {
    match framing {
        Framing::Length(n) => Some(n),
        _ => None,
    }
}

/// A `Host` value's name and the port it names, if any: `name:port`, `[v6]:port` (the
/// brackets' content is the name); an unbracketed IPv6 address has colons and no port.
fn split_host(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((name, after)) => (name, after.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (rest, None),
        };
    }
    match host.split_once(':') {
        Some((name, port)) if !port.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            (name, port.parse().ok())
        }
        _ => (host, None),
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
