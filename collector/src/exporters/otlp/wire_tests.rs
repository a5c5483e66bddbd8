use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;

use super::*;

#[test]
fn varint_lengths_match_what_is_written() {
    for v in [0, 1, 127, 128, 16_383, 16_384, 1 << 35, u64::MAX] {
        let mut buf = Vec::new();
        varint(&mut buf, v);
        assert_eq!(buf.len(), varint_len(v), "{v}");
        assert_eq!(
            prost::encoding::decode_varint(&mut buf.as_slice()).unwrap(),
            v
        );
    }
}

#[test]
fn attributes_read_back_as_otlp_key_values() {
    let long = "x".repeat(300);
    let cases: [(&str, Value); 5] = [
        ("http.route", Value::StringValue("/users/{id}".into())),
        ("empty", Value::StringValue(String::new())),
        (&long, Value::StringValue(long.clone())),
        ("server.port", Value::IntValue(8080)),
        ("negative", Value::IntValue(-3)),
    ];
    for (name, value) in cases {
        let mut buf = Vec::new();
        match &value {
            Value::StringValue(s) => string_attribute(&mut buf, 1, name, s),
            Value::IntValue(i) => int_attribute(&mut buf, 1, name, *i),
            other => unreachable!("{other:?}"),
        }
        // Field 1 of a wrapper message, as `attributes` sit in a span or resource.
        let mut rest = buf.as_slice();
        let (tag, _) = prost::encoding::decode_key(&mut rest).unwrap();
        assert_eq!(tag, 1);
        let kv = KeyValue::decode_length_delimited(&mut rest).unwrap();
        assert!(rest.is_empty());
        assert_eq!(kv.key, name);
        assert_eq!(kv.value.unwrap().value, Some(value));
    }
}

#[test]
fn scalars_at_their_default_are_left_out_and_messages_never_are() {
    let mut buf = Vec::new();
    uint(&mut buf, 6, 0);
    fixed64(&mut buf, 7, 0);
    data(&mut buf, 1, b"");
    joined(&mut buf, 5, &["", ""]);
    assert!(buf.is_empty());
    message(&mut buf, 15, b"");
    assert_eq!(buf, [15 << 3 | 2, 0]);
    let mut buf = Vec::new();
    joined(&mut buf, 5, &["GET", " ", "/x"]);
    assert_eq!(buf, b"\x2a\x06GET /x");
}

#[test]
fn an_encoded_message_is_its_bytes() {
    let e = Encoded(Bytes::from_static(b"\x0a\x01x"));
    assert_eq!(e.encoded_len(), 3);
    assert_eq!(e.encode_to_vec(), b"\x0a\x01x");
}

#[test]
fn a_message_written_in_parts_is_the_message_written_whole() {
    for len in [0usize, 1, 127, 128, 300, 16_384] {
        let body = vec![7u8; len];
        let mut whole = Vec::new();
        message(&mut whole, 2, &body);
        let mut parts = Vec::new();
        message_head(&mut parts, 2, len);
        parts.extend_from_slice(&body);
        assert_eq!(parts, whole, "body of {len} bytes");
        assert_eq!(message_len(2, len), whole.len(), "body of {len} bytes");
    }
}
