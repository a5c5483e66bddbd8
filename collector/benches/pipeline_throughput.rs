//! Pipeline throughput: events per second from a `replay` source through a `filter`
//! processor into an exporter, with the real runtime (channels, counting, fan-out).
//! Run with `cargo bench -p kotel --bench pipeline_throughput`. Prints one line per case.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use kotel::component::{BoxFuture, ComponentError, Exporter, Processor, Source};
use kotel::config::{self, ComponentId, ExporterConfig, ProcessorConfig, SourceConfig};
use kotel::event::{Batch, Direction, Event, TcpConnEvent, TcpEventKind};
use kotel::exporters::debug::{DebugExporter, DebugExporterConfig};
use kotel::pipeline::build::{ComponentFactory, Components};
use kotel::pipeline::{run_with, RunOptions};

const EVENTS_PER_FILE: usize = 10_000;
const REPEAT: u32 = 30;

/// Counts what it receives and discards it: the cost measured is the runtime's.
struct Null(Arc<AtomicU64>);

impl Exporter for Null {
    fn export<'a>(&'a mut self, batch: &'a Batch) -> BoxFuture<'a, Result<(), ComponentError>> {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Box::pin(async { Ok(()) })
    }
    fn flush(&mut self, _: tokio::time::Instant) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async { Ok(()) })
    }
}

enum Sink {
    Null(Arc<AtomicU64>),
    DebugToSink,
}

struct Factory(Sink);

impl ComponentFactory for Factory {
    fn source(&self, id: &ComponentId, c: &SourceConfig) -> Box<dyn Source> {
        Components::default().source(id, c)
    }
    fn processor(&self, id: &ComponentId, c: &ProcessorConfig) -> Box<dyn Processor> {
        Components::default().processor(id, c)
    }
    fn exporter(&self, _: &ComponentId, _: &ExporterConfig) -> Box<dyn Exporter> {
        match &self.0 {
            Sink::Null(n) => Box::new(Null(n.clone())),
            Sink::DebugToSink => Box::new(DebugExporter::to_writer(
                &DebugExporterConfig::default(),
                std::io::sink(),
            )),
        }
    }
}

fn event(i: usize) -> Event {
    Event::Tcp(TcpConnEvent {
        workload: None,
        kind: if i.is_multiple_of(2) {
            TcpEventKind::Connect
        } else {
            TcpEventKind::Close
        },
        time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
        direction: Direction::Outbound,
        local_addr: "10.1.2.3".parse().unwrap(),
        local_port: 40_000 + (i % 20_000) as u16,
        remote_addr: "10.9.8.7".parse().unwrap(),
        remote_port: 443,
        connect_latency_ns: Some(120_000),
        duration_ns: (i % 2 == 1).then_some(3_000_000),
        failed_state: None,
        pid: 1234,
        comm: "client".into(),
        cgroup_id: 4242,
        netns: 4026531840,
        sock_id: i as u64,
        stats: None,
    })
}

fn main() {
    let dir = std::env::temp_dir().join(format!("kotel-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.jsonl");
    let text: String = (0..EVENTS_PER_FILE)
        .map(|i| serde_json::to_string(&event(i)).unwrap() + "\n")
        .collect();
    std::fs::write(&file, text).unwrap();
    let yaml = format!(
        "sources:\n  replay: {{ path: {}, repeat: {REPEAT} }}\nprocessors:\n  filter: {{ exclude: {{ ports: [9] }} }}\n\
         exporters:\n  debug: {{}}\npipelines:\n  logs: {{ sources: [replay], processors: [filter], exporters: [debug] }}\n\
         runtime: {{ when_full: block, block_timeout: 10s }}\ntelemetry: {{ interval: 0s }}\n",
        file.display()
    );
    let config = config::parse_str(&yaml, &|_| None).expect("bench config");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let total = EVENTS_PER_FILE as u64 * u64::from(REPEAT);

    for (name, sink) in [
        ("null exporter", Sink::Null(Arc::new(AtomicU64::new(0)))),
        ("debug exporter (basic, to a sink)", Sink::DebugToSink),
    ] {
        let counted = match &sink {
            Sink::Null(n) => Some(n.clone()),
            Sink::DebugToSink => None,
        };
        let started = Instant::now();
        runtime
            .block_on(run_with(
                &config,
                RunOptions::default(),
                std::future::pending(),
                Arc::new(Factory(sink)),
            ))
            .unwrap();
        let secs = started.elapsed().as_secs_f64();
        if let Some(n) = counted {
            assert_eq!(n.load(Ordering::Relaxed), total, "every event arrived");
        }
        println!(
            "pipeline_throughput/{name}: {total} events in {secs:.3} s = {:.0} events/s (JSON decode + filter + runtime)",
            total as f64 / secs
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
