//! The protobuf wire format, written straight from kotel's events into bytes (no message
//! structs in between): varints, field keys, and length-delimited fields. For the hot
//! paths whose messages are large and many (spans), where building `prost` structs costs
//! an allocation per string.
//!
//! Contract: each function appends one complete field to `buf` in proto3 encoding, which
//! `prost` (or any protobuf decoder) reads back as the same message. Scalars equal to
//! their default are omitted, as proto3 encoders do; messages are always written.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};
use prost::DecodeError;

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const DELIMITED: u64 = 2;

/// Appends `v` as a varint.
pub fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Bytes `v` takes as a varint.
pub fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits (and 1 for 0).
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn key(buf: &mut Vec<u8>, field: u32, wire: u64) {
    varint(buf, (u64::from(field) << 3) | wire);
}

/// Bytes a field key takes.
fn key_len(field: u32) -> usize {
    varint_len(u64::from(field) << 3)
}

/// A `uint64`/`int32`/enum field (omitted when 0).
pub fn uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(buf, field, VARINT);
        varint(buf, v);
    }
}

/// A `fixed64` field (omitted when 0).
pub fn fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(buf, field, FIXED64);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// A `bytes` or `string` field (omitted when empty).
pub fn data(buf: &mut Vec<u8>, field: u32, data: &[u8]) {
    if !data.is_empty() {
        message(buf, field, data);
    }
}

/// A `string` field made of `parts` one after another (omitted when all are empty).
pub fn joined(buf: &mut Vec<u8>, field: u32, parts: &[&str]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > 0 {
        key(buf, field, DELIMITED);
        varint(buf, len as u64);
        for p in parts {
            buf.extend_from_slice(p.as_bytes());
        }
    }
}

/// An embedded message field whose encoding is `body` (written even when empty: a
/// present message differs from an absent one).
pub fn message(buf: &mut Vec<u8>, field: u32, body: &[u8]) {
    message_head(buf, field, body.len());
    buf.extend_from_slice(body);
}

/// The start of an embedded message field whose body, `len` bytes, the caller appends
/// next: for a message made of parts already encoded, without copying them into one
/// body first.
pub fn message_head(buf: &mut Vec<u8>, field: u32, len: usize) {
    key(buf, field, DELIMITED);
    varint(buf, len as u64);
}

/// Bytes an embedded message field with a body of `len` bytes takes.
pub fn message_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

/// An OTLP `KeyValue` field with a string value (`AnyValue.string_value`).
pub fn string_attribute(buf: &mut Vec<u8>, field: u32, name: &str, value: &str) {
    // AnyValue { string_value = 1 }
    let any = key_len(1) + varint_len(value.len() as u64) + value.len();
    attribute_head(buf, field, name, any);
    key(buf, 1, DELIMITED);
    varint(buf, value.len() as u64);
    buf.extend_from_slice(value.as_bytes());
}

/// An OTLP `KeyValue` field with an integer value (`AnyValue.int_value`).
pub fn int_attribute(buf: &mut Vec<u8>, field: u32, name: &str, value: i64) {
    // AnyValue { int_value = 3 }: always written, 0 included (a present value).
    let any = key_len(3) + varint_len(value as u64);
    attribute_head(buf, field, name, any);
    key(buf, 3, VARINT);
    varint(buf, value as u64);
}

/// The `KeyValue` field's key, length and `key` member, and the `value` member's key and
/// length (`any` bytes of `AnyValue` follow).
fn attribute_head(buf: &mut Vec<u8>, field: u32, name: &str, any: usize) {
    let name_len = key_len(1) + varint_len(name.len() as u64) + name.len();
    let value_len = key_len(2) + varint_len(any as u64) + any;
    key(buf, field, DELIMITED);
    varint(buf, (name_len + value_len) as u64);
    key(buf, 1, DELIMITED);
    varint(buf, name.len() as u64);
    buf.extend_from_slice(name.as_bytes());
    key(buf, 2, DELIMITED);
    varint(buf, any as u64);
}

/// A message already encoded, sent as is by `tonic` and the HTTP client (whose codecs
/// take a `prost::Message`). Cheap to clone (retries send the same bytes). Never decoded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Encoded(pub Bytes);

impl prost::Message for Encoded {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0 = Bytes::new();
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
