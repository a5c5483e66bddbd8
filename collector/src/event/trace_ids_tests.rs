use super::*;

#[test]
fn ids_read_back_from_their_hex_and_refuse_other_lengths_or_digits() {
    let id: TraceId = "0AF7651916cd43dd8448eb211c80319c".parse().unwrap();
    assert_eq!(id.to_string(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(id.0[0], 0x0a);
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, "\"0af7651916cd43dd8448eb211c80319c\"");
    assert_eq!(serde_json::from_str::<TraceId>(&json).unwrap(), id);
    assert_eq!("b7ad6b7169203331".parse::<SpanId>().unwrap().0[7], 0x31);
    assert_eq!("b7ad6b716920333".parse::<SpanId>(), Err(BadId));
    assert_eq!("b7ad6b716920333g".parse::<SpanId>(), Err(BadId));
    assert!(serde_json::from_str::<SpanId>("\"00\"").is_err());
    assert!(SpanId::default().is_zero());
}
