#!/usr/bin/env python3
"""At what connection rate the tcp source's ring buffer starts losing events with the
default sizes, and whether every event is accounted for.

Run by scripts/bench.sh (`loss`) as root. For each target rate (ascending; `max` = flat
out) and round, `kotel run` starts on the shipped pipeline.yaml with two changes: the tcp
source keeps only the benchmark's listening port in the kernel (`filter.include.ports`,
so that other traffic on the machine neither fills the ring nor enters the counts) and
self-telemetry every second; ring buffer, wakeup and batch sizes stay at their defaults.
storm.c's `rate` mode then makes connections in the benchmark's namespace; each makes
exactly four events (connect, accept, and a close on each end). Once the agent's counters
settle, its Prometheus endpoint gives:

  seen   kotel.component.events.received{component_id=tcp, component_kind=source}
  lost   kotel.ebpf.ringbuf.lost{source=tcp}        (the kernel could not reserve)
       + kotel.source.decode_errors{source=tcp}      (records user space skipped)
  queue  kotel.component.events.dropped{component_id=tcp, reason=queue_full}: seen, then
         dropped before the pipeline (reported, not part of the identity)

and checks made = seen + lost, exactly, besides emitted (the program's own count) =
seen + decode errors. BPF runs the kernel skipped for recursion (bpf stats'
recursion_misses of kotel's tcp_state program) are printed: such a skipped transition is
an event nobody counts.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

from benchlib import kotel_tool, progs_full, settled, shipped_config, stop, value

SOURCE = {"component_id": "tcp", "component_kind": "source"}
KEYS = [
    ("kotel_component_events_received_total", SOURCE),
    ("kotel_ebpf_ringbuf_lost_total", {"source": "tcp"}),
    ("kotel_source_tcp_kernel_events_total", {"source": "tcp", "stat": "emitted"}),
]
EVENTS_PER_CONNECTION = 4


def one(kotel, storm, netns, work, rate, seconds, port, prom):
    config = shipped_config(work, "loss.yaml", [
        ("  tcp: {}", f"  tcp: {{ metrics_interval: 300s, filter: {{ include: {{ ports: [{port}] }} }} }}"),
        ("  interval: 30s", "  interval: 1s"),
    ])
    tool = kotel_tool(kotel, prom, config, name="kotel-loss")
    proc = tool.start(work)
    try:
        before = progs_full()
        per_second = 10_000_000 if rate == "max" else int(rate)
        out = subprocess.run(["ip", "netns", "exec", netns, "env", f"STORM_PORT={port}", storm, "rate",
                              str(per_second), str(seconds), "4"], check=True, capture_output=True, text=True).stdout
        ops, wall, _ = map(int, out.split())
        time.sleep(1.0)
        series = settled(prom, KEYS, proc)
        after = progs_full()
    finally:
        stop(proc)
    misses = sum(a["recursion_misses"] - before.get(i, {}).get("recursion_misses", 0)
                 for i, a in after.items() if a["name"] == "kotel_tcp_state")
    seen = value(series, "kotel_component_events_received_total", **SOURCE)
    lost_kernel = value(series, "kotel_ebpf_ringbuf_lost_total", source="tcp")
    decode = value(series, "kotel_source_decode_errors_total", source="tcp")
    emitted = value(series, "kotel_source_tcp_kernel_events_total", source="tcp", stat="emitted")
    queue = value(series, "kotel_component_events_dropped_total", component_id="tcp", reason="queue_full")
    made = ops * EVENTS_PER_CONNECTION
    return {"rate": ops * 1e9 / wall, "made": made, "seen": seen, "kernel": lost_kernel, "decode": decode,
            "emitted": emitted, "queue": queue, "misses": misses, "diff": made - seen - lost_kernel - decode}


def tcp_defaults(kotel):
    """(ring_buffer_bytes, wakeup_bytes) of the tcp source as this kotel build fills them in."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write("sources: {tcp: {}}\nexporters: {debug: {}}\npipelines: {logs: {sources: [tcp], exporters: [debug]}}\n")
        f.flush()
        text = subprocess.run([kotel, "print-config", f.name], check=True, capture_output=True, text=True).stdout
    field = lambda name: int(re.search(rf"\b{name}: (\d+)", text).group(1))
    return field("ring_buffer_bytes"), field("wakeup_bytes")


def main():
    kotel, storm, netns, rounds, seconds = sys.argv[1:6]
    rates = sys.argv[6:]
    port = int(os.environ.get("BENCH_LOSS_PORT", "47001"))
    prom = int(os.environ.get("BENCH_PROMETHEUS_PORT", "19464"))
    exact = True
    ring, wakeup = tcp_defaults(kotel)
    print(f"\n== loss: tcp source, default ring buffer ({ring // 1024} KiB, reader woken at {wakeup // 1024} KiB) "
          f"and batch sizes, {seconds} s per run, {EVENTS_PER_CONNECTION} events per connection")
    print(f"{'target/s':>9} {'achieved/s':>10} {'made':>9} {'seen':>9} {'lost:ring':>9} {'decode':>6} "
          f"{'made-seen-lost':>14} {'queue_full':>10} {'bpf misses':>10}")
    with tempfile.TemporaryDirectory() as work:
        for rate in rates:
            for _ in range(int(rounds)):
                r = one(kotel, storm, netns, work, rate, int(seconds), port, prom)
                exact &= r["diff"] == 0 and r["emitted"] == r["seen"] + r["decode"]
                print(f"{rate:>9} {r['rate']:10.0f} {r['made']:9d} {r['seen']:9.0f} {r['kernel']:9.0f} "
                      f"{r['decode']:6.0f} {r['diff']:14.0f} {r['queue']:10.0f} {r['misses']:10d}", flush=True)
    print("\nevery run reconciled exactly (made = seen + lost)" if exact else
          "\nNOT EXACT: some run has made != seen + lost (see the rows above)")
    sys.exit(0 if exact else 1)


if __name__ == "__main__":
    main()
