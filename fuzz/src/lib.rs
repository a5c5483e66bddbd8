//! What every fuzz target checks once an input is accepted or rejected.
//!
//! Contracts under test: decoders and the config loader never panic; a rejection carries a
//! reason (a `snake_case` metric label) and a message; an accepted event survives, without
//! panicking, everything cheap that follows it on the agent's path (the debug exporter's
//! text, the OTLP log record, the `aggregate` processor and the OTLP metrics it makes);
//! and a decoded event written by `kotel run --record` reads back equal through `replay`.

use std::fmt::Display;

use kotel::config::{parse_str, Config, ConfigErrors};
use kotel::event::Event;
use kotel::exporters::debug::{format, Verbosity};
use kotel::exporters::otlp::encode_logs::logs_request;
use kotel::exporters::otlp::encode_metrics::metrics_request;
use kotel::exporters::otlp::encode_traces::traces_request;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use kotel::kernel::clock::ClockOffset;
use kotel::component::{Processor, Release};
use kotel::processors::aggregate::{AggregateConfig, AggregateProcessor};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

/// The clock every target decodes with (a realistic CLOCK_REALTIME - CLOCK_MONOTONIC).
pub const CLOCK: ClockOffset = ClockOffset::fixed(1_700_000_000_000_000_000);

/// The watched paths the `file_open` target decodes against (indexes 0 and 1 are valid).
pub fn watched_paths() -> Vec<String> {
    vec!["/etc/shadow".into(), "/root/.ssh/".into()]
}

/// The decode targets' whole check: `decoded` is one decoder's result on raw ring-buffer
/// bytes, `reason` its error's metric label and `wrap` the `Event` variant it becomes.
pub fn check_decoded<T, E: Display>(
    decoded: Result<T, E>,
    reason: fn(&E) -> &'static str,
    wrap: fn(T) -> Event,
) {
    match decoded {
        Ok(event) => {
            let event = wrap(event);
            assert_record_round_trips(&event);
            follow(&event);
        }
        Err(e) => check_rejection(reason(&e), &e.to_string()),
    }
}

/// Checks a decoder's rejection: a non-empty `snake_case` reason and a non-empty message.
pub fn check_rejection(reason: &str, message: &str) {
    assert!(
        !reason.is_empty() && reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "reason {reason:?} is not a snake_case label"
    );
    assert!(!message.is_empty(), "rejection {reason} has no message");
}

/// Runs `event` through the exporters' encoders and the `aggregate` processor.
pub fn follow(event: &Event) {
    let mut text = String::new();
    format::event(&mut text, event, Verbosity::Basic);
    format::event(&mut text, event, Verbosity::Detailed);
    let resource = Resource::default();
    if let Some(request) = logs_request(&resource, &[event]) {
        let _ = request.encode_to_vec();
    }
    if let Event::Http(e) = event {
        let request = traces_request(&resource, &[e]).expect("an exchange is a span");
        let decoded = ExportTraceServiceRequest::decode(request.0).expect("valid protobuf");
        assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 1);
    }
    let mut aggregate = AggregateProcessor::new("aggregate", &AggregateConfig::default());
    let mut out = aggregate.process(vec![event.clone()]);
    out.extend(aggregate.release(Release::All));
    for produced in &out {
        if let Event::Metrics(batch) = produced {
            let _ = metrics_request(&resource, &[batch], &[]).encode_to_vec();
            format::event(&mut text, produced, Verbosity::Detailed);
        }
    }
}

/// The `--record` / `replay` contract for a decoded event: its JSON line reads back equal.
pub fn assert_record_round_trips(event: &Event) {
    let line = serde_json::to_string(event).expect("a decoded event is written as JSON");
    let back: Event = serde_json::from_str(&line).expect("replay reads what --record wrote");
    assert_eq!(
        &back, event,
        "the replayed event differs from the recorded one"
    );
}

/// The variables `${env:...}` sees in the config target: a few set ones (one empty, one
/// whose value is YAML syntax, one with `$`), those the seed files use, every other unset.
pub fn fuzz_env(name: &str) -> Option<String> {
    let value = match name {
        "NODE_NAME" => "node-1",
        "OTLP_ENDPOINT" => "http://127.0.0.1:4317",
        "PORT" => "9464",
        "EMPTY" => "",
        "YAML" => "[a, {b: c}]: # x",
        "DOLLAR" => "$${env:NODE_NAME}",
        // What collector/testdata/config (seeds of the target) refer to.
        "KOTEL_TEST_RING_BYTES" => "1048576",
        "KOTEL_TEST_INTERVAL" => "30s",
        _ => return None,
    };
    Some(value.to_string())
}

/// `kotel validate`'s contract on any text: a valid `Config`, or a non-empty list of
/// errors each with a message. A valid config also keeps `print-config`'s: its YAML (and
/// the redacted one) is written without panicking, and the YAML reads back equal.
pub fn check_config(text: &str) -> Result<Config, ConfigErrors> {
    let loaded = parse_str(text, &fuzz_env);
    match &loaded {
        Ok(config) => {
            let _ = config.to_redacted_yaml();
            let yaml = config.to_yaml();
            match parse_str(&yaml, &fuzz_env) {
                Ok(again) => assert_eq!(
                    &again, config,
                    "print-config output reads back different:\n{yaml}"
                ),
                Err(e) => panic!("print-config output does not load:\n{yaml}\n{e}"),
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "rejected without an error");
            for e in &errors.0 {
                assert!(
                    !e.message.trim().is_empty(),
                    "error at {:?} has no message",
                    e.path
                );
            }
        }
    }
    loaded
}

/// The `l7` target's whole check: `bytes` is a sequence of records, each behind its length
/// (2 bytes, little endian); each is parsed (a rejection must carry a reason) and fed to
/// one tracker, which is then swept past every timeout; every exchange it ends goes
/// onward as [`check_decoded`]'s events do.
pub fn check_l7(mut bytes: &[u8]) {
    use kotel::sources::l7::records::Record;
    use kotel::sources::l7::route::Routes;
    use kotel::sources::l7::tracker::{Limits, Tracker};
    let limits = Limits {
        request_timeout: std::time::Duration::from_secs(1),
        idle_timeout: std::time::Duration::from_secs(2),
        max_connections: 64,
    };
    let mut tracker = Tracker::new("l7", limits, Routes::new(&[]).0, CLOCK, "/nonexistent".into());
    let mut out = Vec::new();
    while bytes.len() >= 2 {
        let n = usize::from(u16::from_le_bytes([bytes[0], bytes[1]]));
        let (record, rest) = bytes[2..].split_at(n.min(bytes.len() - 2));
        bytes = rest;
        match Record::parse(record) {
            Ok(r) => tracker.record(r, &mut out),
            Err(e) => check_rejection(e.reason(), &e.to_string()),
        }
    }
    tracker.sweep(u64::MAX, &mut out);
    for event in &out {
        assert_record_round_trips(event);
        follow(event);
    }
}
