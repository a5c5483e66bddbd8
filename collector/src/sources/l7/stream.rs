//! One direction of a followed connection as a sequence of HTTP/1.x messages: heads
//! parsed as their bytes arrive (split over reads or not), bodies framed by their
//! length or chunks, counted by the bytes each syscall moved even where the kernel
//! captured only the first of them.
//!
//! Contract: [`Stream::feed`] takes one read or write at a time and appends what it
//! completed as [`Step`]s. Where the framing cannot be followed (bytes of a head or of
//! chunk framing beyond the capture, an invalid head) the stream is lost until a read or
//! write that starts like a new message; a lost stream says so once ([`Step::Lost`]).

use super::http1::{
    request_head, response_head, ChunkedBody, Framing, Invalid, Parsed, RequestHead, ResponseHead,
    MAX_HEAD_BYTES,
};

/// When one syscall ran (kernel monotonic ns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct At {
    /// Its enter.
    pub start_ns: u64,
    /// Its return.
    pub end_ns: u64,
}

/// One read or write: the bytes captured (its first ones) and how many it moved.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    /// The first bytes moved (at most `size`).
    pub bytes: &'a [u8],
    /// Bytes moved.
    pub size: u64,
    /// When.
    pub at: At,
}

/// A message head of one direction.
pub trait Head: Sized {
    /// Parses a head from the start of `buf`; `method` is the method of the request a
    /// response answers.
    fn parse(buf: &[u8], method: &str) -> Parsed<Self>;
    /// The body's framing.
    fn framing(&self) -> Framing;
    /// Whether `prefix` starts like such a message.
    fn starts(prefix: &[u8]) -> bool;
    /// Whether another head answers the same request after it (a 1xx response).
    fn is_interim(&self) -> bool {
        false
    }
}

impl Head for RequestHead {
    fn parse(buf: &[u8], _: &str) -> Parsed<Self> {
        request_head(buf)
    }
    fn framing(&self) -> Framing {
        self.framing
    }
    fn starts(prefix: &[u8]) -> bool {
        super::http1::looks_like_request(prefix)
    }
}

impl Head for ResponseHead {
    fn parse(buf: &[u8], method: &str) -> Parsed<Self> {
        response_head(buf, method)
    }
    fn framing(&self) -> Framing {
        self.framing
    }
    fn starts(prefix: &[u8]) -> bool {
        super::http1::looks_like_response(prefix)
    }
    fn is_interim(&self) -> bool {
        ResponseHead::is_interim(self)
    }
}

/// What a read or write completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<H> {
    /// A head, with when its first bytes moved. `framed == false`: its body cannot be
    /// followed (the head ran past the capture), so no [`Step::End`] follows.
    Head { head: H, at: At, framed: bool },
    /// The body of the last head ended in the syscall at `at`.
    End(At),
    /// Bytes that are not HTTP/1.x.
    Invalid(Invalid),
    /// The framing was lost in the syscall at `at` (bytes it needs were not captured).
    Lost(At),
}

enum State {
    /// The next byte starts a message.
    Idle,
    /// A head split over reads: its bytes so far and when they began.
    Head { bytes: Vec<u8>, at: At },
    /// Body bytes left.
    Length(u64),
    /// A chunked body.
    Chunked(ChunkedBody),
    /// The body runs until the connection closes.
    UntilClose,
    /// Framing lost: waiting for a syscall whose bytes start a message.
    Lost,
}

/// One direction's state.
pub struct Stream<H> {
    state: State,
    _head: std::marker::PhantomData<H>,
}

impl<H: Head> Default for Stream<H> {
    fn default() -> Self {
        Self {
            state: State::Idle,
            _head: std::marker::PhantomData,
        }
    }
}

impl<H: Head> Stream<H> {
    /// Whether the body in flight runs until the connection closes.
    pub fn until_close(&self) -> bool {
        matches!(self.state, State::UntilClose)
    }

    /// Feeds one syscall. `methods` are the methods of the requests not answered yet, in
    /// order (what a response parse needs; empty for requests).
    pub fn feed(&mut self, chunk: &Chunk, methods: &[&'static str], out: &mut Vec<Step<H>>) {
        let seen = chunk.bytes.len() as u64;
        let size = chunk.size.max(seen);
        let mut pos = 0u64;
        let mut answered = 0usize;
        while pos < size {
            let method = methods.get(answered).copied().unwrap_or("GET");
            match &mut self.state {
                State::Lost => {
                    if pos == 0 && H::starts(chunk.bytes) {
                        self.state = State::Idle;
                        continue;
                    }
                    return;
                }
                State::UntilClose => return,
                State::Length(left) => {
                    let take = (*left).min(size - pos);
                    *left -= take;
                    pos += take;
                    if *left == 0 {
                        self.state = State::Idle;
                        out.push(Step::End(chunk.at));
                    }
                }
                State::Chunked(body) => {
                    let result = if pos >= seen {
                        match body.skip_data(size - pos) {
                            0 => Err(None),
                            n => Ok((n, false)),
                        }
                    } else {
                        body.feed(&chunk.bytes[pos as usize..])
                            .map(|(used, done)| (used as u64, done))
                            .map_err(Some)
                    };
                    match result {
                        Ok((used, done)) => {
                            pos += used;
                            if done {
                                self.state = State::Idle;
                                out.push(Step::End(chunk.at));
                            }
                        }
                        Err(invalid) => return self.lose(invalid, chunk.at, out),
                    }
                }
                State::Idle => {
                    if pos >= seen {
                        return self.lose(None, chunk.at, out);
                    }
                    // Stray line ends between messages (RFC 9112 §2.2) are skipped.
                    if matches!(chunk.bytes[pos as usize], b'\r' | b'\n') {
                        pos += 1;
                        continue;
                    }
                    let bytes = &chunk.bytes[pos as usize..];
                    match H::parse(bytes, method) {
                        Parsed::Complete(head, len) => {
                            pos += len as u64;
                            answered += usize::from(!head.is_interim());
                            self.begin(head, chunk.at, chunk.at, out);
                        }
                        Parsed::Partial if seen < size || bytes.len() > MAX_HEAD_BYTES => {
                            return self.cut_head(bytes, method, chunk.at, out);
                        }
                        Parsed::Partial => {
                            self.state = State::Head {
                                bytes: bytes.to_vec(),
                                at: chunk.at,
                            };
                            return;
                        }
                        Parsed::Invalid(e) => return self.lose(Some(e), chunk.at, out),
                    }
                }
                State::Head { bytes, at } => {
                    let first = *at;
                    let before = bytes.len();
                    bytes.extend_from_slice(&chunk.bytes[pos as usize..]);
                    match H::parse(bytes, method) {
                        Parsed::Complete(head, len) => {
                            pos += (len - before) as u64;
                            answered += usize::from(!head.is_interim());
                            self.begin(head, first, chunk.at, out);
                        }
                        Parsed::Partial if seen < size || bytes.len() > MAX_HEAD_BYTES => {
                            let bytes = std::mem::take(bytes);
                            return self.cut_head(&bytes, method, first, out);
                        }
                        Parsed::Partial => return,
                        Parsed::Invalid(e) => return self.lose(Some(e), chunk.at, out),
                    }
                }
            }
        }
    }

    /// A complete head whose first bytes moved at `first` and last at `now`.
    fn begin(&mut self, head: H, first: At, now: At, out: &mut Vec<Step<H>>) {
        let framing = head.framing();
        out.push(Step::Head {
            head,
            at: first,
            framed: true,
        });
        self.state = match framing {
            Framing::None => {
                out.push(Step::End(now));
                State::Idle
            }
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(ChunkedBody::default()),
            Framing::UntilClose => State::UntilClose,
        };
    }

    /// A head that runs past what was captured: what its complete lines say, then lost.
    fn cut_head(&mut self, bytes: &[u8], method: &str, at: At, out: &mut Vec<Step<H>>) {
        let lines = bytes
            .windows(2)
            .rposition(|w| w == b"\r\n")
            .map(|end| [&bytes[..end + 2], b"\r\n"].concat());
        match lines.map(|head| H::parse(&head, method)) {
            Some(Parsed::Complete(head, _)) => {
                out.push(Step::Head {
                    head,
                    at,
                    framed: false,
                });
                self.state = State::Lost;
            }
            Some(Parsed::Invalid(e)) => self.lose(Some(e), at, out),
            _ => self.lose(None, at, out),
        }
    }

    fn lose(&mut self, invalid: Option<Invalid>, at: At, out: &mut Vec<Step<H>>) {
        self.state = State::Lost;
        out.push(match invalid {
            Some(e) => Step::Invalid(e),
            None => Step::Lost(at),
        });
    }
}
