use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::event::samples::tcp_event;
use crate::event::{
    keys, CgroupHistogram, Direction, ExecEvent, HistogramMetric, Metric, MetricBatch, MetricData,
    TcpConnStats, TcpEventKind, Temporality, Workload,
};

fn pod(name: &str) -> Arc<Workload> {
    Arc::new(Workload::from_pairs([
        (keys::NODE_NAME, "node-1"),
        (keys::NAMESPACE, "shop"),
        (keys::POD_NAME, name),
        (keys::CONTAINER_NAME, "app"),
        (keys::CONTAINER_ID, "c0ffee"),
    ]))
}

fn tcp(kind: TcpEventKind, direction: Direction, workload: &Arc<Workload>) -> Event {
    let mut event = tcp_event(80);
    if let Event::Tcp(e) = &mut event {
        e.kind = kind;
        e.direction = direction;
        e.remote_addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
        if kind == TcpEventKind::Close {
            e.duration_ns = Some(30_000_000);
            e.stats = Some(TcpConnStats {
                bytes_sent: 100,
                bytes_received: 2000,
                ..TcpConnStats::default()
            });
        }
    }
    event.set_workload(workload.clone());
    event
}

fn kernel(
    metric: HistogramMetric,
    cgroup: u64,
    offset: i32,
    counts: Vec<u64>,
    w: &Arc<Workload>,
) -> Event {
    let count = counts.iter().sum();
    let mut event = Event::Histogram(CgroupHistogram {
        workload: None,
        metric,
        time_unix_nano: 0,
        start_time_unix_nano: 0,
        cgroup_id: cgroup,
        scale: 2,
        offset,
        bucket_counts: counts,
        zero_count: 0,
        count,
        sum: 0.25,
    });
    event.set_workload(w.clone());
    event
}

fn collect(p: &mut AggregateProcessor) -> MetricBatch {
    match p.release(Release::All).pop() {
        Some(Event::Metrics(m)) => m,
        other => panic!("no metrics: {other:?}"),
    }
}

fn metric<'a>(batch: &'a MetricBatch, name: &str) -> &'a Metric {
    batch
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                batch.metrics.iter().map(|m| &m.name).collect::<Vec<_>>()
            )
        })
}

/// `(attributes as k=v strings, value)` of a sum's points.
fn sums(m: &Metric) -> Vec<(Vec<String>, i64)> {
    let MetricData::Sum { points, .. } = &m.data else {
        panic!("{} is not a sum", m.name)
    };
    points
        .iter()
        .map(|p| {
            let attrs = p
                .header
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            (attrs, p.value)
        })
        .collect()
}

fn strings(pairs: &[&str]) -> Vec<String> {
    pairs.iter().map(|s| s.to_string()).collect()
}

#[test]
fn connection_events_become_counts_open_connections_durations_and_bytes() {
    let mut p = AggregateProcessor::new("aggregate", &AggregateConfig::default());
    let web = pod("web-1");
    let exec = Event::Exec(ExecEvent::default());
    let out = p.process(vec![
        tcp(TcpEventKind::Connect, Direction::Outbound, &web),
        tcp(TcpEventKind::Connect, Direction::Outbound, &web),
        tcp(TcpEventKind::Accept, Direction::Inbound, &web),
        tcp(TcpEventKind::Close, Direction::Outbound, &web),
        tcp(TcpEventKind::ConnectFailed, Direction::Outbound, &web),
        exec.clone(),
    ]);
    assert_eq!(out, vec![exec], "only events it does not aggregate pass");
    let batch = collect(&mut p);
    let base = [
        "k8s.container.name=app",
        "k8s.namespace.name=shop",
        "k8s.pod.name=web-1",
    ];
    let with = |extra: &str| {
        let mut v = strings(&base);
        v.push(extra.to_string());
        v.sort();
        v
    };
    assert_eq!(
        sums(metric(&batch, "tcp.connection.opened")),
        [
            (with("direction=inbound"), 1),
            (with("direction=outbound"), 2)
        ]
    );
    assert_eq!(
        sums(metric(&batch, "tcp.connection.open")),
        [
            (with("direction=inbound"), 1),
            (with("direction=outbound"), 1)
        ]
    );
    assert_eq!(
        sums(metric(&batch, "tcp.connection.closed")),
        [(with("direction=outbound"), 1)]
    );
    assert_eq!(
        sums(metric(&batch, "tcp.connection.failed")),
        [(strings(&base), 1)]
    );
    assert_eq!(
        sums(metric(&batch, "tcp.connection.io")),
        [
            (with("network.io.direction=receive"), 2000),
            (with("network.io.direction=transmit"), 100)
        ]
    );
    let duration = metric(&batch, "tcp.connection.duration");
    assert_eq!(duration.unit, "s");
    let MetricData::Histogram {
        points,
        temporality,
    } = &duration.data
    else {
        panic!("duration is an explicit histogram")
    };
    assert_eq!(*temporality, Temporality::Cumulative);
    assert_eq!((points[0].count, points[0].sum), (1, 0.03));
    // 30 ms falls in the (0.025, 0.05] bucket.
    assert_eq!(points[0].bucket_counts[3], 1);
    let MetricData::Sum { monotonic, .. } = &metric(&batch, "tcp.connection.open").data else {
        unreachable!()
    };
    assert!(!monotonic, "open connections is an up-down counter");
}

#[test]
fn kernel_histograms_of_one_pod_merge_losslessly_or_rebin_when_asked() {
    let web = pod("web-1");
    let events = || {
        vec![
            kernel(HistogramMetric::TcpRtt, 7, -40, vec![1, 2], &web),
            kernel(HistogramMetric::TcpRtt, 8, -41, vec![4], &web),
        ]
    };
    let mut p = AggregateProcessor::new("aggregate", &AggregateConfig::default());
    assert!(p.process(events()).is_empty());
    let batch = collect(&mut p);
    let MetricData::ExponentialHistogram { points, .. } = &metric(&batch, "tcp.rtt").data else {
        panic!("rtt passes through as an exponential histogram")
    };
    assert_eq!(points.len(), 1, "two cgroups, one pod: one series");
    assert_eq!((points[0].scale, points[0].offset), (2, -41));
    assert_eq!(points[0].bucket_counts, [4, 1, 2]);
    assert_eq!(points[0].count, 7);

    let mut config = AggregateConfig::default();
    config.histograms.insert(
        "tcp.rtt".into(),
        config::HistogramConfig {
            buckets: vec![0.001, 0.01],
        },
    );
    let mut p = AggregateProcessor::new("aggregate", &config);
    p.process(events());
    let batch = collect(&mut p);
    let MetricData::Histogram { points, .. } = &metric(&batch, "tcp.rtt").data else {
        panic!("configured buckets make an explicit histogram")
    };
    assert_eq!(points[0].bucket_counts.iter().sum::<u64>(), 7);
    assert_eq!(&*points[0].bounds, &[0.001, 0.01]);
}

#[test]
fn histograms_no_kernel_makes_are_refused_and_counted_and_never_grow_a_series() {
    crate::telemetry::install();
    let refused = |reason: &str| {
        crate::telemetry::snapshot().counter_sum(
            crate::telemetry::names::AGGREGATE_REFUSED,
            &[
                ("component_id", "aggregate/refuse"),
                ("metric", "tcp.rtt"),
                ("reason", reason),
            ],
        )
    };
    let web = pod("web");
    let mut p = AggregateProcessor::new("aggregate/refuse", &AggregateConfig::default());
    let mut other_scale = kernel(HistogramMetric::TcpRtt, 7, -40, vec![1], &web);
    if let Event::Histogram(h) = &mut other_scale {
        h.scale = 3;
    }
    let (scale_before, range_before) = (refused("scale"), refused("index_range"));
    p.process(vec![
        kernel(HistogramMetric::TcpRtt, 7, -40, vec![1, 2], &web),
        // A replay line whose offset is far from everything: merged, it would make a
        // bucket vector of a million slots.
        kernel(HistogramMetric::TcpRtt, 7, 1_000_000, vec![5], &web),
        kernel(HistogramMetric::TcpRtt, 7, i32::MIN, vec![5], &web),
        kernel(HistogramMetric::TcpRtt, 7, 39, vec![1, 1], &web),
        other_scale,
    ]);
    assert_eq!(refused("index_range") - range_before, 3.0);
    assert_eq!(refused("scale") - scale_before, 1.0);
    let batch = collect(&mut p);
    let MetricData::ExponentialHistogram { points, .. } = &metric(&batch, "tcp.rtt").data else {
        panic!("exponential");
    };
    assert_eq!(points.len(), 1);
    assert_eq!(
        (points[0].offset, points[0].count),
        (-40, 3),
        "only the good one"
    );
    assert_eq!(points[0].bucket_counts, [1, 2]);
}

#[test]
fn beyond_the_cardinality_limit_data_goes_to_one_overflow_series() {
    let config = AggregateConfig {
        cardinality_limit: 3,
        ..AggregateConfig::default()
    };
    crate::telemetry::install();
    let mut p = AggregateProcessor::new("aggregate/limit", &config);
    let before = crate::telemetry::snapshot().counter_sum(
        crate::telemetry::names::AGGREGATE_OVERFLOW,
        &[
            ("component_id", "aggregate/limit"),
            ("metric", "tcp.connection.failed"),
        ],
    );
    let events: Vec<Event> = (0..6)
        .map(|i| {
            tcp(
                TcpEventKind::ConnectFailed,
                Direction::Outbound,
                &pod(&format!("p{i}")),
            )
        })
        .collect();
    p.process(events);
    let batch = collect(&mut p);
    let points = sums(metric(&batch, "tcp.connection.failed"));
    assert_eq!(points.len(), 3, "{points:?}");
    let overflow = points
        .iter()
        .find(|(attrs, _)| attrs == &strings(&["otel.metric.overflow=true"]))
        .expect("an overflow series");
    assert_eq!(overflow.1, 4, "p2..p5 overflowed");
    assert_eq!(
        points.iter().map(|(_, v)| v).sum::<i64>(),
        6,
        "nothing lost"
    );
    let after = crate::telemetry::snapshot().counter_sum(
        crate::telemetry::names::AGGREGATE_OVERFLOW,
        &[
            ("component_id", "aggregate/limit"),
            ("metric", "tcp.connection.failed"),
        ],
    );
    assert!(after - before >= 4.0, "{before} -> {after}");
}

#[test]
fn cumulative_points_grow_from_a_fixed_start_and_delta_points_cover_one_interval() {
    let web = pod("web-1");
    let failed = || tcp(TcpEventKind::ConnectFailed, Direction::Outbound, &web);
    let first_point = |batch: &MetricBatch| {
        let MetricData::Sum {
            points,
            temporality,
            ..
        } = &metric(batch, "tcp.connection.failed").data
        else {
            unreachable!()
        };
        (
            points[0].value,
            points[0].header.start_time_unix_nano,
            points[0].header.time_unix_nano,
            *temporality,
        )
    };

    let mut p = AggregateProcessor::new("aggregate", &AggregateConfig::default());
    p.process(vec![failed(), failed()]);
    let (v1, start1, end1, t) = first_point(&collect(&mut p));
    p.process(vec![failed()]);
    let (v2, start2, _, _) = first_point(&collect(&mut p));
    assert_eq!((v1, v2, t), (2, 3, Temporality::Cumulative));
    assert_eq!(start1, start2);
    assert!(start1 <= end1);

    let config = AggregateConfig {
        temporality: Temporality::Delta,
        ..AggregateConfig::default()
    };
    let mut p = AggregateProcessor::new("aggregate", &config);
    p.process(vec![failed(), failed()]);
    let (v1, _, end1, t) = first_point(&collect(&mut p));
    p.process(vec![failed()]);
    let (v2, start2, _, _) = first_point(&collect(&mut p));
    assert_eq!((v1, v2, t), (2, 1, Temporality::Delta));
    assert_eq!(
        start2, end1,
        "a delta window starts where the previous one ended"
    );
    // Nothing new: no point at all.
    assert!(collect(&mut p)
        .metrics
        .iter()
        .all(|m| m.name != "tcp.connection.failed"));
}

#[test]
fn peer_attributes_only_when_asked_and_collections_follow_the_interval() {
    let web = pod("web-1");
    let config = AggregateConfig {
        peer: Peer::Address,
        interval: Duration::from_secs(5),
        ..AggregateConfig::default()
    };
    let mut p = AggregateProcessor::new("aggregate", &config);
    p.process(vec![tcp(TcpEventKind::Connect, Direction::Outbound, &web)]);
    let due = p.next_release().unwrap();
    assert!(due > Instant::now() + Duration::from_secs(4));
    assert!(
        p.release(Release::Due(Instant::now())).is_empty(),
        "not due yet"
    );
    let Some(Event::Metrics(batch)) = p.release(Release::Due(due)).pop() else {
        panic!("due: a collection")
    };
    let (attrs, _) = &sums(metric(&batch, "tcp.connection.opened"))[0];
    assert!(
        attrs.contains(&"network.peer.address=10.0.0.9".to_string()),
        "{attrs:?}"
    );
    assert!(attrs.contains(&"server.port=80".to_string()), "{attrs:?}");
    assert!(p.next_release().unwrap() >= due + Duration::from_secs(5));
}
