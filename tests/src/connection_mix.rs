//! The events the `tcp` source makes, spread over many cgroups, in kernel-reader-sized
//! batches: for benchmarks and tests of the user-space event path.
//!
//! Per connection: an open event (`connect`, outbound, with its connect latency; or
//! `accept`, inbound: one connection in three) and, later in the stream, its `close` with
//! duration and the kernel's byte counts. Per cgroup and metrics interval: an RTT and a
//! connect-latency kernel histogram and a retransmit/reset counters record.

use std::net::{IpAddr, Ipv4Addr};

use kotel::event::{
    Batch, CgroupHistogram, Direction, Event, HistogramMetric, TcpConnStats, TcpCounters,
    TcpEventKind,
};

use crate::events::tcp_connect;

/// Events between a connection's open and its close in the stream.
const OPEN_FOR: usize = 64;

/// Connection `n`'s open and close events interleaved with those of its neighbours:
/// `count` events starting at stream position `first`, each from one of `cgroups`.
pub fn connection_events(cgroups: &[u64], first: usize, count: usize) -> Batch {
    (first..first + count)
        .map(|position| {
            // Even positions open connection p/2; odd ones close the connection opened
            // OPEN_FOR events earlier.
            let (connection, closing) = match position % 2 {
                0 => (position / 2, false),
                _ => ((position / 2).saturating_sub(OPEN_FOR / 2), true),
            };
            Event::Tcp(connection_event(cgroups, connection, closing))
        })
        .collect()
}

/// Batches of `batch` events each, `batches` of them, from stream position 0.
pub fn connection_batches(cgroups: &[u64], batches: usize, batch: usize) -> Vec<Batch> {
    (0..batches)
        .map(|b| connection_events(cgroups, b * batch, batch))
        .collect()
}

/// One metrics interval's kernel records: for every cgroup an RTT histogram, a
/// connect-latency histogram and a counters record.
pub fn interval_records(cgroups: &[u64], time_unix_nano: u64) -> Batch {
    cgroups
        .iter()
        .flat_map(|&cgroup_id| {
            let histogram = |metric| {
                Event::Histogram(CgroupHistogram {
                    metric,
                    time_unix_nano,
                    start_time_unix_nano: time_unix_nano.saturating_sub(10_000_000_000),
                    cgroup_id,
                    scale: 2,
                    // Buckets around 2^-14 s (61 µs) .. 2^-11 s (488 µs).
                    offset: -56,
                    bucket_counts: vec![3, 9, 20, 11, 6, 2, 0, 0, 1, 1, 0, 1],
                    zero_count: 0,
                    count: 54,
                    sum: 0.009,
                    workload: None,
                })
            };
            [
                histogram(HistogramMetric::TcpRtt),
                histogram(HistogramMetric::TcpConnectLatency),
                Event::TcpCounters(TcpCounters {
                    time_unix_nano,
                    interval_ns: 10_000_000_000,
                    cgroup_id,
                    retransmits: 2,
                    resets_sent: 1,
                    resets_received: 0,
                    workload: None,
                }),
            ]
        })
        .collect()
}

fn connection_event(
    cgroups: &[u64],
    connection: usize,
    closing: bool,
) -> kotel::event::TcpConnEvent {
    // Spread connections over the cgroups without following their order.
    let cgroup_id = cgroups[connection.wrapping_mul(7919) % cgroups.len()];
    let inbound = connection % 3 == 2;
    let mut e = tcp_connect(
        cgroup_id,
        1000 + (connection % 30_000) as u32,
        connection as u64,
    );
    e.time_unix_nano = 1_700_000_000_000_000_000 + connection as u64 * 1000;
    e.comm = "server".into();
    e.local_addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    e.remote_addr = IpAddr::V4(Ipv4Addr::new(
        10,
        1,
        (connection >> 8) as u8,
        connection as u8,
    ));
    (e.direction, e.local_port, e.remote_port) = match inbound {
        true => (
            Direction::Inbound,
            8080,
            30_000 + (connection % 30_000) as u16,
        ),
        false => (
            Direction::Outbound,
            30_000 + (connection % 30_000) as u16,
            443,
        ),
    };
    match (closing, inbound) {
        (false, false) => {
            e.kind = TcpEventKind::Connect;
            e.connect_latency_ns = Some(80_000 + (connection % 1000) as u64 * 100);
        }
        (false, true) => e.kind = TcpEventKind::Accept,
        (true, _) => {
            e.kind = TcpEventKind::Close;
            e.duration_ns = Some(2_000_000 + (connection % 5000) as u64 * 10_000);
            e.stats = Some(TcpConnStats {
                bytes_sent: 1_200 + (connection % 700) as u64,
                bytes_received: 16_000 + (connection % 9000) as u64,
                srtt_us: 90,
                min_rtt_us: 40,
                ..TcpConnStats::default()
            });
        }
    }
    e
}
