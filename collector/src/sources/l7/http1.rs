//! HTTP/1.0 and 1.1 message heads, parsed from the first bytes of a message as the kernel
//! captured them, and the framing of the body that follows (RFC 9112).
//!
//! Contract: every function takes untrusted bytes and never panics. A head is
//! [`Parsed::Complete`] once its empty line is in `buf`, [`Parsed::Partial`] while it may
//! still come (more reads, or a capture cut short), and [`Parsed::Invalid`] with a
//! [`Invalid`] reason (a label for counters) as soon as the bytes cannot be HTTP/1.x.
//! Strings kept from a head are bounded ([`MAX_TARGET_BYTES`], [`MAX_HOST_BYTES`]).
//! [`looks_like_request`] and [`looks_like_response`] decide by content, never by port,
//! from a message's first bytes.

use crate::event::trace_ids::{hex_digit, Id};
use crate::event::{HttpVersion, SpanId, TraceId, HTTP_METHODS};

/// Longest request target kept (longer ones are cut, flagged in [`RequestHead::target_cut`]).
pub const MAX_TARGET_BYTES: usize = 512;
/// Longest `Host` value kept (a longer one is dropped).
pub const MAX_HOST_BYTES: usize = 255;
/// Longest head parsed; a head still without its empty line beyond this is invalid.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A head parse result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The head and its length in bytes (where the body starts).
    Complete(T, usize),
    /// Not all of the head is here yet.
    Partial,
    /// Not HTTP/1.x.
    Invalid(Invalid),
}

/// Why bytes are not an HTTP/1.x head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invalid {
    /// The start line is not `METHOD target HTTP/1.x` or `HTTP/1.x NNN reason`.
    StartLine,
    /// A header line has no `:` or a name that is not a token.
    Header,
    /// `Content-Length` is not a number, or two disagree.
    ContentLength,
    /// The head is longer than [`MAX_HEAD_BYTES`].
    TooLong,
    /// A chunk size line is not hexadecimal.
    Chunk,
}

impl Invalid {
    /// The `reason` label of what was skipped.
    pub fn reason(self) -> &'static str {
        match self {
            Invalid::StartLine => "start_line",
            Invalid::Header => "header",
            Invalid::ContentLength => "content_length",
            Invalid::TooLong => "head_too_long",
            Invalid::Chunk => "chunk",
        }
    }
}

/// How the body after a head is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (a response without length or chunking).
    UntilClose,
}

/// A W3C `traceparent` (version 00): the trace and the caller's span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace id (not all zero).
    pub trace_id: TraceId,
    /// The parent span id (not all zero).
    pub parent_id: SpanId,
    /// The trace flags (bit 0: sampled).
    pub flags: u8,
}

/// A request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, one of [`HTTP_METHODS`].
    pub method: &'static str,
    /// The request target as sent (origin form `/path?query`, or absolute form), at most
    /// [`MAX_TARGET_BYTES`].
    pub target: String,
    /// True when the target was longer and cut.
    pub target_cut: bool,
    /// The protocol version.
    pub version: HttpVersion,
    /// The `Host` header, if present and short enough.
    pub host: Option<String>,
    /// The body's framing.
    pub framing: Framing,
    /// `Expect: 100-continue`: an interim `100` response may come before the final one.
    pub expect_continue: bool,
    /// The connection closes after the response.
    pub close: bool,
    /// A valid `traceparent` header.
    pub traceparent: Option<TraceParent>,
}

impl RequestHead {
    /// `url.path`: the target without its query (the path of an absolute-form target).
    pub fn path(&self) -> &str {
        path_of(&self.target)
    }

    /// [`path`](Self::path), made from the target in place.
    pub fn into_path(self) -> String {
        narrowed(self.target, path_of)
    }
}

fn path_of(target: &str) -> &str {
    let target = match target.find("://") {
        Some(scheme_end) => {
            let rest = &target[scheme_end + 3..];
            rest.find('/').map_or("/", |at| &rest[at..])
        }
        None => target,
    };
    target.split(['?', '#']).next().unwrap_or(target)
}

/// `text` cut down to `part(text)`, in place when `part` returns a slice of its argument
/// (no allocation), else a copy of what it returns.
pub fn narrowed(mut text: String, part: impl FnOnce(&str) -> &str) -> String {
    let (start, len) = {
        let kept = part(&text);
        let start = (kept.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        if start
            .checked_add(kept.len())
            .is_none_or(|end| end > text.len())
        {
            return kept.to_string();
        }
        (start, kept.len())
    };
    text.truncate(start + len);
    text.drain(..start);
    text
}

/// A response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The protocol version.
    pub version: HttpVersion,
    /// The status code, 100 to 999.
    pub status: u16,
    /// The body's framing, given the request it answers.
    pub framing: Framing,
    /// The connection closes after this response.
    pub close: bool,
}

impl ResponseHead {
    /// An interim (1xx) response: the final one is still to come (`101` switches
    /// protocols and is final).
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// True when `prefix` (a message's first bytes, at least 4) can start an HTTP/1.x
/// request: a known method followed by a space.
pub fn looks_like_request(prefix: &[u8]) -> bool {
    HTTP_METHODS.iter().any(|m| {
        let m = m.as_bytes();
        prefix.len() > m.len() && prefix.starts_with(m) && prefix[m.len()] == b' '
    })
}

/// True when `prefix` can start an HTTP/1.x response: `HTTP/1.` then a digit.
pub fn looks_like_response(prefix: &[u8]) -> bool {
    prefix.len() >= 8 && prefix.starts_with(b"HTTP/1.") && prefix[7].is_ascii_digit()
}

/// Parses a request head from the start of `buf`.
pub fn request_head(buf: &[u8]) -> Parsed<RequestHead> {
    let (mut lines, length) = match head_lines(buf) {
        Ok(found) => found,
        Err(parsed) => return parsed,
    };
    let Some(start) = lines.next() else {
        return Parsed::Invalid(Invalid::StartLine);
    };
    let Some((method, target, version)) = request_line(start) else {
        return Parsed::Invalid(Invalid::StartLine);
    };
    let headers = match Headers::read(lines) {
        Ok(h) => h,
        Err(e) => return Parsed::Invalid(e),
    };
    let framing = if headers.chunked {
        Framing::Chunked
    } else {
        match headers.content_length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    };
    let close = headers.closes(version);
    let cut = target.len() > MAX_TARGET_BYTES;
    let target = String::from_utf8_lossy(&target[..target.len().min(MAX_TARGET_BYTES)]);
    Parsed::Complete(
        RequestHead {
            method,
            target: target.into_owned(),
            target_cut: cut,
            version,
            host: headers.host,
            framing,
            expect_continue: headers.expect_continue,
            close,
            traceparent: headers.traceparent,
        },
        length,
    )
}

/// Parses a response head from the start of `buf`; `request_method` is the method of the
/// request it answers (a response to `HEAD` has no body, nor does a 1xx, 204 or 304).
pub fn response_head(buf: &[u8], request_method: &str) -> Parsed<ResponseHead> {
    let (mut lines, length) = match head_lines(buf) {
        Ok(found) => found,
        Err(parsed) => return parsed,
    };
    let Some((version, status)) = lines.next().and_then(status_line) else {
        return Parsed::Invalid(Invalid::StartLine);
    };
    let headers = match Headers::read(lines) {
        Ok(h) => h,
        Err(e) => return Parsed::Invalid(e),
    };
    let bodiless =
        request_method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if bodiless {
        Framing::None
    } else if headers.chunked {
        Framing::Chunked
    } else {
        match headers.content_length {
            Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    let close = headers.closes(version) || framing == Framing::UntilClose;
    Parsed::Complete(
        ResponseHead {
            version,
            status,
            framing,
            close,
        },
        length,
    )
}

/// The lines of the head at the start of `buf` (without line endings, read as they are
/// iterated) and the head's length, or the result to return when it is not complete or
/// not valid.
fn head_lines<T>(buf: &[u8]) -> Result<(impl Iterator<Item = &[u8]>, usize), Parsed<T>> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        // A head ended by bare LFs is valid too (RFC 9112 2.2).
        return match find(buf, b"\n\n") {
            Some(end) => Ok((split_lines(&buf[..end]), end + 2)),
            None if buf.len() > MAX_HEAD_BYTES => Err(Parsed::Invalid(Invalid::TooLong)),
            None => Err(Parsed::Partial),
        };
    };
    if end > MAX_HEAD_BYTES {
        return Err(Parsed::Invalid(Invalid::TooLong));
    }
    Ok((split_lines(&buf[..end]), end + 4))
}

fn split_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn version(token: &[u8]) -> Option<HttpVersion> {
    match token {
        b"HTTP/1.1" => Some(HttpVersion::Http11),
        b"HTTP/1.0" => Some(HttpVersion::Http10),
        _ => None,
    }
}

/// `METHOD SP target SP HTTP/1.x`.
fn request_line(line: &[u8]) -> Option<(&'static str, &[u8], HttpVersion)> {
    let mut parts = line.split(|b| *b == b' ');
    let method = parts.next()?;
    let method = HTTP_METHODS.iter().find(|m| m.as_bytes() == method)?;
    let target = parts
        .next()
        .filter(|t| !t.is_empty() && t.iter().all(|b| b.is_ascii_graphic()))?;
    let version = version(parts.next()?)?;
    parts.next().is_none().then_some((*method, target, version))
}

/// `HTTP/1.x SP NNN [SP reason]`.
fn status_line(line: &[u8]) -> Option<(HttpVersion, u16)> {
    let version = version(line.get(..8)?)?;
    let code = line.get(8..12).filter(|c| c[0] == b' ')?;
    let digits = &code[1..];
    if !digits.iter().all(u8::is_ascii_digit) || digits[0] == b'0' {
        return None;
    }
    if line.len() > 12 && line[12] != b' ' {
        return None;
    }
    let status = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    Some((version, status))
}

/// What the headers say that kotel uses.
#[derive(Default)]
struct Headers {
    content_length: Option<u64>,
    chunked: bool,
    host: Option<String>,
    expect_continue: bool,
    close: bool,
    keep_alive: bool,
    traceparent: Option<TraceParent>,
}

impl Headers {
    fn read<'a>(lines: impl Iterator<Item = &'a [u8]>) -> Result<Self, Invalid> {
        let mut h = Headers::default();
        for line in lines {
            let colon = line
                .iter()
                .position(|b| *b == b':')
                .ok_or(Invalid::Header)?;
            let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
            if name.is_empty() || !name.iter().all(|b| is_token(*b)) {
                return Err(Invalid::Header);
            }
            h.take(name, value)?;
        }
        Ok(h)
    }

    fn take(&mut self, name: &[u8], value: &[u8]) -> Result<(), Invalid> {
        // The names read here differ in length: one comparison per header line.
        let is = |wanted: &[u8]| name.eq_ignore_ascii_case(wanted);
        match name.len() {
            14 if is(b"content-length") => {
                let n = decimal(value).ok_or(Invalid::ContentLength)?;
                if self.content_length.is_some_and(|m| m != n) {
                    return Err(Invalid::ContentLength);
                }
                self.content_length = Some(n);
            }
            17 if is(b"transfer-encoding") => {
                // Chunked is the final coding when it is last in the list.
                let last = value.rsplit(|b| *b == b',').next().map(trim).unwrap_or(b"");
                self.chunked = last.eq_ignore_ascii_case(b"chunked");
            }
            4 if is(b"host") => {
                self.host = (value.len() <= MAX_HOST_BYTES && !value.is_empty())
                    .then(|| String::from_utf8_lossy(value).into_owned());
            }
            6 if is(b"expect") => {
                self.expect_continue = value.eq_ignore_ascii_case(b"100-continue");
            }
            10 if is(b"connection") => {
                for option in value.split(|b| *b == b',').map(trim) {
                    self.close |= option.eq_ignore_ascii_case(b"close");
                    self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            11 if is(b"traceparent") => self.traceparent = traceparent(value),
            _ => {}
        }
        Ok(())
    }

    /// Whether the connection closes after this message, for `version`.
    fn closes(&self, version: HttpVersion) -> bool {
        match version {
            HttpVersion::Http11 => self.close,
            HttpVersion::Http10 => !self.keep_alive || self.close,
        }
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &bytes[start..end.max(start)]
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; all-zero ids are invalid.
pub fn traceparent(value: &[u8]) -> Option<TraceParent> {
    if value.len() < 55 || &value[..3] != b"00-" || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    if value.len() > 55 && value[55] != b'-' {
        return None;
    }
    let mut trace_id = [0u8; 16];
    let mut parent_id = [0u8; 8];
    let mut flags = [0u8; 1];
    hex(&value[3..35], &mut trace_id)?;
    hex(&value[36..52], &mut parent_id)?;
    hex(&value[53..55], &mut flags)?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some(TraceParent {
        trace_id: Id(trace_id),
        parent_id: Id(parent_id),
        flags: flags[0],
    })
}

/// Lowercase hex into `out` (twice as many digits as bytes).
fn hex(digits: &[u8], out: &mut [u8]) -> Option<()> {
    let nibble = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(())
}

/// Follows a chunked body across reads, to find where it ends (and the next message
/// begins). Chunk extensions and trailers are skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChunkedBody {
    state: ChunkState,
    /// Body bytes seen (chunk data only).
    pub data_bytes: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum ChunkState {
    /// Reading a size line; the digits so far.
    #[default]
    Size,
    SizeDigits(u64),
    /// Skipping a chunk extension until the line ends.
    Extension(u64),
    /// Chunk data left.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// Trailer lines after the last chunk; `true` at the start of a line.
    Trailer(bool),
    Done,
}

impl ChunkedBody {
    /// Passes over up to `n` bytes of chunk data not seen (beyond what the kernel
    /// captured); returns how many it passed. 0 when the body is not inside chunk data:
    /// the next bytes are framing, which must be seen.
    pub fn skip_data(&mut self, n: u64) -> u64 {
        let ChunkState::Data(left) = self.state else {
            return 0;
        };
        let take = left.min(n);
        self.data_bytes += take;
        self.state = if take == left {
            ChunkState::DataEnd
        } else {
            ChunkState::Data(left - take)
        };
        take
    }

    /// Consumes what of `data` belongs to the body; returns how many bytes that was and
    /// whether the body ended there.
    pub fn feed(&mut self, data: &[u8]) -> Result<(usize, bool), Invalid> {
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            self.state = match std::mem::take(&mut self.state) {
                ChunkState::Size => match hex_digit(b) {
                    Some(d) => ChunkState::SizeDigits(u64::from(d)),
                    None => return Err(Invalid::Chunk),
                },
                ChunkState::SizeDigits(n) => match (hex_digit(b), b) {
                    (Some(d), _) => ChunkState::SizeDigits(
                        n.checked_mul(16)
                            .and_then(|n| n.checked_add(u64::from(d)))
                            .ok_or(Invalid::Chunk)?,
                    ),
                    (None, b';' | b' ' | b'\t' | b'\r') => ChunkState::Extension(n),
                    (None, b'\n') => Self::after_size(n),
                    _ => return Err(Invalid::Chunk),
                },
                ChunkState::Extension(n) => match b {
                    b'\n' => Self::after_size(n),
                    _ => ChunkState::Extension(n),
                },
                ChunkState::Data(left) => {
                    let take = (left.min((data.len() - i) as u64)) as usize;
                    self.data_bytes += take as u64;
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    continue;
                }
                ChunkState::DataEnd => match b {
                    b'\r' => ChunkState::DataEnd,
                    b'\n' => ChunkState::Size,
                    _ => return Err(Invalid::Chunk),
                },
                ChunkState::Trailer(line_start) => match b {
                    b'\n' if line_start => ChunkState::Done,
                    b'\n' => ChunkState::Trailer(true),
                    b'\r' => ChunkState::Trailer(line_start),
                    _ => ChunkState::Trailer(false),
                },
                ChunkState::Done => ChunkState::Done,
            };
            i += 1;
            if self.state == ChunkState::Done {
                return Ok((i, true));
            }
        }
        Ok((i, false))
    }

    fn after_size(n: u64) -> ChunkState {
        if n == 0 {
            ChunkState::Trailer(true)
        } else {
            ChunkState::Data(n)
        }
    }
}

#[cfg(test)]
#[path = "http1_tests.rs"]
mod tests;
