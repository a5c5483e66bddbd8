use super::format::rfc3339;
use super::*;
use crate::event::samples::tcp_event;
use crate::event::{Event, TelemetryPoint, TelemetrySnapshot};

fn render(verbosity: Verbosity, batch: Batch) -> String {
    let mut exporter = DebugExporter::to_writer(&DebugExporterConfig { verbosity }, Vec::new());
    futures_lite_block_on(exporter.export(&batch)).unwrap();
    String::from_utf8(exporter.writer().clone()).unwrap()
}

fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn basic_prints_one_line_per_event_with_the_essentials() {
    let text = render(Verbosity::Basic, vec![tcp_event(80), tcp_event(443)]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        "2023-11-14T22:13:20.000Z tcp connect        pid=42 comm=curl cgroup=7 127.0.0.1:40000 -> 127.0.0.1:80 connect_latency=0.012ms"
    );
}

#[test]
fn basic_shows_inbound_ipv6_close_and_failures() {
    let Event::Tcp(mut e) = tcp_event(8080) else {
        unreachable!()
    };
    e.kind = crate::event::TcpEventKind::Close;
    e.direction = crate::event::Direction::Inbound;
    e.local_addr = "::1".parse().unwrap();
    e.remote_addr = "::1".parse().unwrap();
    e.connect_latency_ns = None;
    e.duration_ns = Some(2_500_000);
    let mut failed = e.clone();
    failed.kind = crate::event::TcpEventKind::ConnectFailed;
    failed.failed_state = Some("syn_sent".into());
    failed.duration_ns = None;
    let text = render(Verbosity::Basic, vec![Event::Tcp(e), Event::Tcp(failed)]);
    assert!(text.contains("tcp close          pid=42 comm=curl cgroup=7 [::1]:40000 <- [::1]:8080 duration=2.500ms"), "{text}");
    assert!(
        text.contains("connect_failed") && text.contains("failed_in=syn_sent"),
        "{text}"
    );
}

#[test]
fn detailed_prints_every_field() {
    let text = render(Verbosity::Detailed, vec![tcp_event(80)]);
    for field in [
        "kind: connect",
        "time_unix_nano: 1700000000000000000",
        "direction: outbound",
        "local_addr: 127.0.0.1",
        "local_port: 40000",
        "remote_addr: 127.0.0.1",
        "remote_port: 80",
        "connect_latency_ns: 12345",
        "pid: 42",
        "comm: curl",
        "cgroup_id: 7",
        "netns: 0",
        "sock_id: 1",
    ] {
        assert!(
            text.contains(&format!("-> {field}\n")),
            "missing {field} in\n{text}"
        );
    }
}

#[test]
fn telemetry_is_summarised_in_basic_and_listed_in_detailed() {
    let point = |name: &str, kind: &str, value| TelemetryPoint {
        name: name.into(),
        labels: vec![
            ("component_id".into(), "tcp".into()),
            ("component_kind".into(), kind.into()),
        ],
        value,
    };
    let snapshot = TelemetrySnapshot {
        start_time_unix_nano: 0,
        time_unix_nano: 0,
        counters: vec![
            point("kotel.component.events.received", "source", 12.0),
            point("kotel.component.events.dropped", "source", 3.0),
        ],
        gauges: vec![point("kotel.channel.depth", "source", 1.0)],
    };
    let basic = render(Verbosity::Basic, vec![Event::Telemetry(snapshot.clone())]);
    assert_eq!(basic.lines().count(), 1);
    assert!(basic.contains("sources emitted=12 dropped=3"), "{basic}");
    let detailed = render(Verbosity::Detailed, vec![Event::Telemetry(snapshot)]);
    assert!(
        detailed.contains(
            "counter kotel.component.events.received{component_id=tcp,component_kind=source} 12"
        ),
        "{detailed}"
    );
    assert!(
        detailed.contains("gauge kotel.channel.depth{component_id=tcp,component_kind=source} 1"),
        "{detailed}"
    );
}

#[test]
fn timestamps_are_utc_rfc3339() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(rfc3339(951_782_400_123_000_000), "2000-02-29T00:00:00.123Z");
    assert_eq!(
        rfc3339(1_795_000_000_000_000_000),
        "2026-11-18T11:06:40.000Z"
    );
}

#[test]
fn a_closed_output_is_an_export_error_not_a_panic() {
    struct Closed;
    impl std::io::Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut exporter = DebugExporter::to_writer(&DebugExporterConfig::default(), Closed);
    let err = futures_lite_block_on(exporter.export(&vec![tcp_event(1)])).unwrap_err();
    assert!(err.to_string().contains("stdout"), "{err}");
}

#[test]
fn histograms_print_count_mean_and_median_bucket_and_survive_absurd_values() {
    use crate::event::{CgroupHistogram, HistogramMetric};
    // Scale 0: bucket i covers (2^i, 2^(i+1)]; 3 samples in (2^-10, 2^-9] s, 1 in (2^-9, 2^-8].
    let h = CgroupHistogram {
        workload: None,
        metric: HistogramMetric::TcpRtt,
        time_unix_nano: 0,
        start_time_unix_nano: 0,
        cgroup_id: 9,
        scale: 0,
        offset: -10,
        bucket_counts: vec![3, 1],
        zero_count: 0,
        count: 4,
        sum: 0.005,
    };
    let text = render(Verbosity::Basic, vec![Event::Histogram(h.clone())]);
    assert!(
        text.contains("histogram tcp_rtt cgroup=9 count=4 mean=1.250ms p50<=1.953ms"),
        "{text}"
    );
    let absurd = CgroupHistogram {
        workload: None,
        scale: i32::MIN,
        offset: i32::MAX,
        ..h.clone()
    };
    let text = render(
        Verbosity::Basic,
        vec![
            Event::Histogram(absurd),
            Event::Histogram(CgroupHistogram {
                workload: None,
                offset: i32::MAX,
                ..h
            }),
        ],
    );
    assert_eq!(text.lines().count(), 2);
    assert!(!text.contains("p50"), "{text}");
}

#[test]
fn attributed_events_show_their_workload_and_telemetry_sums_up_k8s_cri() {
    use crate::event::{keys, Workload};
    let mut event = tcp_event(80);
    event.set_workload(std::sync::Arc::new(Workload::from_pairs([
        (keys::POD_NAME, "web-1"),
        (keys::NAMESPACE, "shop"),
    ])));
    let basic = render(Verbosity::Basic, vec![event.clone()]);
    assert!(
        basic.ends_with("connect_latency=0.012ms {k8s.namespace.name=shop k8s.pod.name=web-1}\n"),
        "{basic}"
    );
    let detailed = render(Verbosity::Detailed, vec![event]);
    assert!(detailed.contains("web-1"), "{detailed}");

    let point = |name: &str, result: Option<&str>, value| TelemetryPoint {
        name: name.into(),
        labels: result
            .map(|r| vec![("result".to_string(), r.to_string())])
            .unwrap_or_default(),
        value,
    };
    let snapshot = TelemetrySnapshot {
        start_time_unix_nano: 0,
        time_unix_nano: 0,
        counters: vec![
            point("kotel.k8s_cri.lookups", Some("hit"), 40.0),
            point("kotel.k8s_cri.lookups", Some("host"), 2.0),
            point("kotel.k8s_cri.lookups", Some("miss"), 1.0),
        ],
        gauges: vec![
            point("kotel.k8s_cri.connected", None, 1.0),
            point("kotel.k8s_cri.cache.containers", None, 7.0),
        ],
    };
    let basic = render(Verbosity::Basic, vec![Event::Telemetry(snapshot)]);
    assert!(
        basic.ends_with("; k8s_cri runtime=up containers=7 hit=40 host=2 pending=0 miss=1\n"),
        "{basic}"
    );
}
