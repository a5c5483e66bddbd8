//! Events -> OTLP log records: execs, opens of watched files and (in a logs pipeline)
//! TCP connection events, each with a severity, a readable body (the debug exporter's
//! line) and its fields as attributes; the workload's attributes (pod, namespace, ...)
//! are attributes of the record too.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::event::{unix_now, Event, ExecEvent, FileOpenEvent, TcpConnEvent};
use crate::exporters::debug::format;
use crate::exporters::otlp::resource::{scope, string};

/// The request carrying the log records of `events` (events that are not logs are left
/// out); `None` when there is none.
pub fn logs_request(resource: &Resource, events: &[&Event]) -> Option<ExportLogsServiceRequest> {
    let records: Vec<LogRecord> = events.iter().filter_map(|e| record(e)).collect();
    (!records.is_empty()).then(|| ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource.clone()),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    })
}

/// True when `event` becomes a log record.
pub fn is_log(event: &Event) -> bool {
    matches!(event, Event::Exec(_) | Event::FileOpen(_) | Event::Tcp(_))
}

fn record(event: &Event) -> Option<LogRecord> {
    let (time, severity, name, mut attributes) = match event {
        Event::Exec(e) => (
            e.time_unix_nano,
            SeverityNumber::Info,
            "process.exec",
            exec(e),
        ),
        Event::FileOpen(e) => {
            let severity = if e.errno == 0 {
                SeverityNumber::Warn
            } else {
                SeverityNumber::Warn2
            };
            (e.time_unix_nano, severity, "file.open", file_open(e))
        }
        Event::Tcp(e) => (
            e.time_unix_nano,
            SeverityNumber::Info,
            "tcp.connection",
            tcp(e),
        ),
        _ => return None,
    };
    if let Some(workload) = event.workload() {
        for (k, v) in &workload.attributes {
            attributes.push(kv(k, Value::StringValue(v.clone())));
        }
    }
    let mut body = String::new();
    format::line(&mut body, event);
    let body = body.trim_end().to_string();
    Some(LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: unix_now(),
        severity_number: severity as i32,
        severity_text: severity_text(severity).into(),
        body: Some(string(&body)),
        attributes,
        event_name: name.into(),
        ..Default::default()
    })
}

fn severity_text(s: SeverityNumber) -> &'static str {
    match s {
        SeverityNumber::Info => "INFO",
        SeverityNumber::Warn | SeverityNumber::Warn2 => "WARN",
        _ => "INFO",
    }
}

fn exec(e: &ExecEvent) -> Vec<KeyValue> {
    let args = e
        .args
        .iter()
        .map(|a| AnyValue {
            value: Some(Value::StringValue(a.clone())),
        })
        .collect();
    let text = |key: &str, value: &str| kv(key, Value::StringValue(value.to_string()));
    let mut out = vec![
        kv("process.pid", Value::IntValue(e.pid.into())),
        kv("process.parent_pid", Value::IntValue(e.ppid.into())),
        kv("process.real_user.id", Value::IntValue(e.uid.into())),
        text("process.executable.path", &e.executable),
        text("process.executable.requested_path", &e.path),
        text("process.executable.kind", &e.executable_kind),
        text("process.working_directory", &e.working_directory),
        text("process.executable.name", &e.comm),
        kv(
            "process.command_args",
            Value::ArrayValue(ArrayValue { values: args }),
        ),
        kv(
            "process.command_args.truncated",
            Value::BoolValue(e.args_truncated),
        ),
    ];
    if e.executable_inode != 0 {
        out.push(kv(
            "process.executable.inode",
            Value::IntValue(e.executable_inode as i64),
        ));
    }
    if !e.script.is_empty() {
        out.push(text("process.script.path", &e.script));
        out.push(text("process.script.interpreter", &e.interpreter));
    }
    out
}

fn file_open(e: &FileOpenEvent) -> Vec<KeyValue> {
    let text = |key: &str, value: &str| kv(key, Value::StringValue(value.to_string()));
    let mut out = vec![
        text("file.path", &e.path),
        text("file.requested_path", &e.requested_path),
        kv("process.pid", Value::IntValue(e.pid.into())),
        text("process.executable.name", &e.comm),
        text("file.open.access", &e.access.join(",")),
        kv("file.open.flags", Value::IntValue(e.flags.into())),
        kv("error.code", Value::IntValue(e.errno.into())),
        text("file.open.match", &e.matched),
        text("file.open.watched_path", &e.watched_path),
    ];
    if e.inode != 0 {
        out.push(kv("file.inode", Value::IntValue(e.inode as i64)));
        out.push(text("file.device", &e.device));
    }
    if e.unlinked {
        out.push(kv("file.unlinked", Value::BoolValue(true)));
    }
    out
}

fn tcp(e: &TcpConnEvent) -> Vec<KeyValue> {
    let mut out = vec![
        kv("tcp.event", Value::StringValue(e.kind.as_str().into())),
        kv("direction", Value::StringValue(e.direction.as_str().into())),
        kv("network.transport", Value::StringValue("tcp".into())),
        kv(
            "network.local.address",
            Value::StringValue(e.local_addr.to_string()),
        ),
        kv("network.local.port", Value::IntValue(e.local_port.into())),
        kv(
            "network.peer.address",
            Value::StringValue(e.remote_addr.to_string()),
        ),
        kv("network.peer.port", Value::IntValue(e.remote_port.into())),
        kv("process.pid", Value::IntValue(e.pid.into())),
        kv(
            "process.executable.name",
            Value::StringValue(e.comm.to_string()),
        ),
    ];
    if let Some(ns) = e.duration_ns {
        out.push(kv(
            "tcp.connection.duration",
            Value::DoubleValue(ns as f64 / 1e9),
        ));
    }
    if let Some(ns) = e.connect_latency_ns {
        out.push(kv(
            "tcp.connect.duration",
            Value::DoubleValue(ns as f64 / 1e9),
        ));
    }
    out
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}
