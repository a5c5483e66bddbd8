use super::*;

#[test]
fn each_name_is_the_json_type_tag() {
    let events = [
        samples::tcp_event(80),
        Event::TcpCounters(Default::default()),
        Event::Exec(Default::default()),
        Event::FileOpen(Default::default()),
        Event::Telemetry(Default::default()),
    ];
    for event in events {
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], event.name());
    }
}
