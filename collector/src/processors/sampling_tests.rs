use super::*;
use crate::event::{HttpFailure, HttpSide};

fn exchange(trace_low: u64, status: u16, millis: u64) -> Event {
    Event::Http(HttpEvent {
        side: HttpSide::Server,
        status,
        start_time_unix_nano: 1_000,
        end_time_unix_nano: 1_000 + millis * 1_000_000,
        trace_id: format!("{:016x}{trace_low:016x}", 7u64).parse().unwrap(),
        ..HttpEvent::default()
    })
}

fn kept(p: &mut SamplingProcessor, events: Vec<Event>) -> usize {
    p.process(events).len()
}

#[test]
fn the_ratio_keeps_its_share_by_trace_id_and_errors_and_slow_requests_always() {
    let config = SamplingConfig {
        ratio: 0.25,
        keep_errors: true,
        keep_slower_than: Duration::from_millis(500),
        parent_based: true,
    };
    let mut p = SamplingProcessor::new(&config);
    // Trace ids spread evenly over the 64-bit space: a quarter is kept.
    let step = u64::MAX / 1000;
    let fast_ok: Vec<Event> = (0..1000)
        .map(|i| exchange(i * step + step / 2, 200, 10))
        .collect();
    assert_eq!(kept(&mut p, fast_ok), 250);
    // The same ids, each an error or slow: all kept.
    let errors: Vec<Event> = (0..1000).map(|i| exchange(i * step, 503, 10)).collect();
    assert_eq!(kept(&mut p, errors), 1000);
    let slow: Vec<Event> = (0..1000).map(|i| exchange(i * step, 200, 500)).collect();
    assert_eq!(kept(&mut p, slow), 1000);
    let mut timeout = exchange(u64::MAX, 0, 10);
    if let Event::Http(h) = &mut timeout {
        h.failure = Some(HttpFailure::Timeout);
    }
    assert_eq!(kept(&mut p, vec![timeout]), 1);
    // Other events pass.
    assert_eq!(kept(&mut p, vec![Event::Telemetry(Default::default())]), 1);
    assert_eq!(p.drop_reason(), "sampled");
}

#[test]
fn ratio_one_keeps_all_and_zero_keeps_only_what_must_be() {
    let all = SamplingProcessor::new(&SamplingConfig {
        ratio: 1.0,
        ..SamplingConfig::default()
    });
    let none = SamplingProcessor::new(&SamplingConfig {
        ratio: 0.0,
        keep_errors: false,
        keep_slower_than: Duration::ZERO,
        parent_based: true,
    });
    for low in [0, 1, u64::MAX / 2, u64::MAX] {
        let Event::Http(e) = exchange(low, 200, 10) else {
            unreachable!()
        };
        assert!(all.keeps(&e));
        assert!(!none.keeps(&e));
    }
    let bad = SamplingConfig {
        ratio: 1.5,
        ..SamplingConfig::default()
    };
    assert_eq!(bad.validate()[0].path, "ratio");
}

#[test]
fn a_traceparent_decides_when_parent_based() {
    let with_flag = |low: u64, sampled: bool, status: u16| {
        let Event::Http(mut e) = exchange(low, status, 10) else {
            unreachable!()
        };
        e.sampled = Some(sampled);
        e
    };
    let config = SamplingConfig {
        ratio: 0.0,
        keep_slower_than: Duration::ZERO,
        ..SamplingConfig::default()
    };
    let p = SamplingProcessor::new(&config);
    // The ratio keeps nothing, the caller's flag keeps its traces.
    assert!(p.keeps(&with_flag(5, true, 200)));
    let q = SamplingProcessor::new(&SamplingConfig {
        ratio: 1.0,
        ..config.clone()
    });
    // The ratio keeps everything, the caller's "not sampled" drops; errors stay.
    assert!(!q.keeps(&with_flag(5, false, 200)));
    assert!(q.keeps(&with_flag(5, false, 503)));
    // Not parent based: the ratio decides.
    let r = SamplingProcessor::new(&SamplingConfig {
        ratio: 1.0,
        parent_based: false,
        ..config
    });
    assert!(r.keeps(&with_flag(5, false, 200)));
}
