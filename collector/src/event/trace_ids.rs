//! W3C Trace Context ids: a trace id (16 bytes) and a span id (8 bytes), held as bytes
//! (what OTLP sends) and shown, parsed and serialized as lowercase hex (what
//! `traceparent`, Tempo and the debug exporter show).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An id of `N` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id<const N: usize>(pub [u8; N]);

/// A trace id.
pub type TraceId = Id<16>;
/// A span id.
pub type SpanId = Id<8>;

impl<const N: usize> Id<N> {
    /// The id of these bytes.
    pub const fn from_bytes(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// True for the all-zero id, which W3C Trace Context calls invalid.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; N]
    }
}

impl<const N: usize> Default for Id<N> {
    /// The all-zero (invalid) id.
    fn default() -> Self {
        Self([0; N])
    }
}

impl<const N: usize> fmt::Display for Id<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Why a text is not an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadId;

impl fmt::Display for BadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an id of the expected number of hex digits")
    }
}

impl<const N: usize> FromStr for Id<N> {
    type Err = BadId;

    /// Exactly `2 N` hex digits, either case.
    fn from_str(s: &str) -> Result<Self, BadId> {
        let digits = s.as_bytes();
        if digits.len() != 2 * N {
            return Err(BadId);
        }
        let mut out = [0u8; N];
        for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (hex_digit(pair[0]).ok_or(BadId)? << 4) | hex_digit(pair[1]).ok_or(BadId)?;
        }
        Ok(Self(out))
    }
}

/// The value of one hex digit.
pub fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl<const N: usize> Serialize for Id<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, const N: usize> Deserialize<'de> for Id<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "trace_ids_tests.rs"]
mod tests;
