#!/usr/bin/env python3
"""Cost of the l7 source per HTTP request and per untraced syscall.

Run by scripts/bench.sh (`bench.sh l7`) as root; the loads run inside the benchmark's
network namespace and are tests/src/bin/kotel-test-http's `load` (keep-alive clients and
a server in one process, 64-byte bodies: each request is one exchange on each side) and
`syscalls` (one-byte writes and reads on a pipe, descriptors the source never follows).
Tools, alternating per round:

  none           no agent
  kotel-metrics  l7 -> aggregate -> prometheus (RED metrics only)
  kotel-spans    the same plus l7 -> otlp (gRPC) to a rotel that discards what it gets:
                 every span exported
  bpftrace-floor an empty program on each of the source's syscall tracepoints
                 (l7-floor.bt): the slowdown no syscall-tracepoint agent can go below

Cost is read from the kernel and /proc, not the clock: the agent's BPF programs'
run_time_ns (bpf stats) plus the agent's CPU time (schedstat), divided by the requests
(or syscalls). The wall-clock slowdown of the load is printed too.
"""
import os
import subprocess
import sys
import tempfile

from benchlib import HERE, Tool, measure, report, settled, stop, value

# A ring that holds a whole load's records (50 000 requests seen from both ends are
# 200 000 records of ~250 bytes): the load runs faster than an agent sharing its two CPUs
# can read, and with the default 8 MiB ring most records were lost, so the cost measured
# was that of a fraction of the requests. The agent reads the rest while the load drains.
CONFIG_METRICS = """telemetry: {{ interval: 1s }}
sources:
  l7: {{ ring_buffer_bytes: 134217728 }}
processors:
  aggregate: {{ interval: 15s }}
exporters:
  prometheus: {{ listen: 127.0.0.1:{port} }}
pipelines:
  metrics: {{ sources: [l7], processors: [aggregate], exporters: [prometheus] }}
"""

LOST = ("kotel_source_l7_kernel_events_total", {"stat": "ringbuf_full"})
ANSWERED = ("kotel_source_l7_exchanges_total", {"outcome": "answered"})


def config(work, name, text):
    path = os.path.join(work, f"{name}.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    kotel, helper, rotel, netns, rounds = sys.argv[1:6]
    rounds = int(rounds)
    requests = int(os.environ.get("L7_REQUESTS", "50000"))
    connections = int(os.environ.get("L7_CONNECTIONS", "16"))
    syscalls = int(os.environ.get("L7_SYSCALLS", "500000"))
    port, grpc = 19465, 14327
    with tempfile.TemporaryDirectory() as work:
        sink = subprocess.Popen([rotel, "start", "--otlp-grpc-endpoint", f"127.0.0.1:{grpc}",
                                 "--otlp-http-endpoint", "127.0.0.1:14328", "--exporter", "blackhole",
                                 "--pid-file", os.path.join(work, "rotel.pid"),
                                 "--log-file", os.path.join(work, "rotel.log")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        metrics = config(work, "metrics", CONFIG_METRICS.format(port=port))
        spans_text = CONFIG_METRICS.format(port=port).replace(
            "exporters:\n", f"exporters:\n  otlp: {{ endpoint: 'http://127.0.0.1:{grpc}', protocol: grpc }}\n"
        ) + "  traces: { sources: [l7], exporters: [otlp] }\n"
        spans = config(work, "spans", spans_text)
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}
        tools = [
            Tool("none", None, [], "out"),
            Tool("kotel-metrics", [kotel, "--log", "info", "run", "--config", metrics], ["l7 source attached"], "err", env),
            Tool("kotel-spans", [kotel, "--log", "info", "run", "--config", spans], ["l7 source attached"], "err", env),
            Tool("bpftrace-floor", ["bpftrace", os.path.join(HERE, "l7-floor.bt")], ["Attaching"], "out"),
        ]
        def probe(proc):
            # Settled on the losses only: each scrape is an HTTP request the agent sees.
            series = settled(port, [(LOST[0], LOST[1])], proc)
            return (int(value(series, LOST[0], **LOST[1])), int(value(series, ANSWERED[0], **ANSWERED[1])))

        try:
            for label, load, unit, names in [
                (f"keep-alive HTTP/1.1, {requests} requests over {connections} connections, 64-byte bodies",
                 [helper, "load", str(connections), str(requests)], "request", ["none", "kotel-metrics", "kotel-spans", "bpftrace-floor"]),
                (f"{syscalls} one-byte write+read pairs on a pipe (descriptors kotel does not follow)",
                 [helper, "syscalls", str(syscalls)], "syscall", ["none", "kotel-metrics", "bpftrace-floor"]),
            ]:
                chosen = [t for t in tools if t.name in names]
                results = {t.name: [] for t in chosen}
                for _ in range(rounds):
                    for tool in chosen:
                        results[tool.name].append(measure(tool, work, netns, load, probe if tool.name.startswith("kotel") else None))
                print(f"\n== {label}; {rounds} rounds, tools alternating")
                report(results, unit, width=16, who="agent")
                print("\nrecords lost in the ring, and exchanges ended (every round; the probe's own "
                      "scrapes add a few):")
                for name, runs in results.items():
                    if name.startswith("kotel"):
                        counts = [(r["probe"][0], r["probe"][1]) for r in runs]
                        print(f"  {name:16} lost {[c[0] for c in counts]}, exchanges {[c[1] for c in counts]}")
        finally:
            stop(sink)


if __name__ == "__main__":
    main()
