use super::*;
use crate::event::samples::tcp_event;

fn kept(config: &str, batch: Batch) -> Vec<u16> {
    let config: FilterProcessorConfig = yaml_serde::from_str(config).unwrap();
    FilterProcessor::new(&config)
        .process(batch)
        .into_iter()
        .map(|e| match e {
            Event::Tcp(t) => t.remote_port,
            _ => 0,
        })
        .collect()
}

#[test]
fn empty_filter_keeps_everything() {
    assert_eq!(kept("{}", vec![tcp_event(1), tcp_event(2)]), vec![1, 2]);
}

#[test]
fn include_and_exclude_combine() {
    let batch = (1..=5).map(tcp_event).collect();
    assert_eq!(
        kept(
            "include: { ports: [1, 2, 3] }\nexclude: { ports: [2] }",
            batch
        ),
        vec![1, 3]
    );
}

#[test]
fn fields_must_all_match_and_lists_are_alternatives() {
    let batch = vec![tcp_event(1), tcp_event(2)];
    assert_eq!(
        kept(
            "include: { comms: [curl, wget], ports: [2] }",
            batch.clone()
        ),
        vec![2]
    );
    assert_eq!(
        kept("include: { comms: [wget] }", batch.clone()),
        Vec::<u16>::new()
    );
    assert_eq!(
        kept("exclude: { kinds: [connect] }", batch),
        Vec::<u16>::new()
    );
}

#[test]
fn events_other_than_connections_always_pass() {
    let batch = vec![
        Event::Telemetry(Default::default()),
        Event::Exec(Default::default()),
        Event::FileOpen(Default::default()),
        Event::TcpCounters(Default::default()),
    ];
    assert_eq!(
        kept("include: { ports: [9] }", batch.clone()),
        vec![0, 0, 0, 0]
    );
    assert_eq!(kept("exclude: { ports: [0] }", batch), vec![0, 0, 0, 0]);
}

fn of(pod: Option<(&str, &str)>, mut event: Event) -> Event {
    if let Some((ns, pod)) = pod {
        let workload = Workload::from_pairs([(keys::NAMESPACE, ns), (keys::POD_NAME, pod)]);
        event.set_workload(std::sync::Arc::new(workload));
    }
    event
}

/// The names of the kept events, with their pod ("-" when unattributed).
fn kept_by_pod(config: &str, batch: Batch) -> Vec<String> {
    let config: FilterProcessorConfig = yaml_serde::from_str(config).unwrap();
    FilterProcessor::new(&config)
        .process(batch)
        .iter()
        .map(|e| {
            let pod = e
                .workload()
                .and_then(|w| w.get(keys::POD_NAME))
                .unwrap_or("-");
            format!("{}:{pod}", e.name())
        })
        .collect()
}

#[test]
fn workload_conditions_keep_one_pods_events_of_every_kind() {
    let me = Some(("shop", "web-1"));
    let batch = vec![
        of(me, tcp_event(1)),
        of(Some(("shop", "db-0")), tcp_event(2)),
        of(Some(("other", "web-1")), tcp_event(3)),
        of(None, tcp_event(4)),
        of(me, Event::Exec(Default::default())),
        of(None, Event::Exec(Default::default())),
        of(me, Event::FileOpen(Default::default())),
        of(me, Event::TcpCounters(Default::default())),
        of(
            Some(("shop", "db-0")),
            Event::TcpCounters(Default::default()),
        ),
        Event::Telemetry(Default::default()),
    ];
    assert_eq!(
        kept_by_pod(
            "include: { namespaces: [shop], pods: [web-1] }",
            batch.clone()
        ),
        [
            "tcp:web-1",
            "exec:web-1",
            "file_open:web-1",
            "tcp_counters:web-1",
            "telemetry:-"
        ]
    );
    assert_eq!(
        kept_by_pod("exclude: { namespaces: [shop] }", batch),
        ["tcp:web-1", "tcp:-", "exec:-", "telemetry:-"]
    );
}

#[test]
fn workload_and_connection_conditions_combine_on_connections_only() {
    let me = Some(("shop", "web-1"));
    let batch = vec![
        of(me, tcp_event(80)),
        of(me, tcp_event(22)),
        of(me, Event::Exec(Default::default())),
    ];
    // `ports` does not apply to the exec, so include keeps it, but the workload
    // condition must still hold for it to be excluded.
    assert_eq!(
        kept_by_pod("include: { pods: [web-1], ports: [80] }", batch.clone()),
        ["tcp:web-1", "exec:web-1"]
    );
    assert_eq!(
        kept_by_pod("exclude: { pods: [web-1], ports: [22] }", batch),
        ["tcp:web-1", "exec:web-1"]
    );
}
