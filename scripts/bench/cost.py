#!/usr/bin/env python3
"""Cost per connection of kotel and of a peer (bpftrace) on the same loopback work.

Run by scripts/bench.sh as root; see there for the environment it prepares. For each
round, every tool in turn (none, kotel, bpftrace aggregate-only, bpftrace per-event) is
started, the load runs inside a network namespace of its own, and the cost is read from
the kernel and from /proc, not from the clock:

  kernel ns  = run_time_ns of the tool's own BPF programs (kernel.bpf_stats_enabled=1;
               the programs that appeared when the tool started)
  user ns    = CPU time of the tool's threads (schedstat, ns resolution)
  per op     = (kernel ns + user ns) / operations

Wall-clock slowdown of the load (median and spread of none/tool pairs) is printed too,
for those who ask, with the warning that on shared VMs it is noise at this scale.
"""
import os
import sys
import tempfile

from benchlib import HERE, Tool, kotel_tool, measure, report


def tools(kotel, prometheus_port):
    bt = ["bpftrace", "-B", "full"]
    return [
        Tool("none", None, [], "out"),
        kotel_tool(kotel, prometheus_port),
        Tool("bpftrace-aggregate", bt + [os.path.join(HERE, "peer-aggregate.bt")], ["Attaching"], "out"),
        Tool("bpftrace-events", bt + [os.path.join(HERE, "peer-events.bt")], ["Attaching"], "out"),
    ]


def main():
    kotel, netns, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    workloads = sys.argv[4:]
    port = int(os.environ.get("BENCH_PROMETHEUS_PORT", "19464"))
    with tempfile.TemporaryDirectory() as work:
        for spec in workloads:
            kind, n, k = spec.split(":")
            load = [os.environ["BENCH_STORM"], kind, n, k]
            unit = "connection" if kind == "storm" else "request"
            results = {t.name: [] for t in tools(kotel, port)}
            for _ in range(rounds):
                for tool in tools(kotel, port):
                    results[tool.name].append(measure(tool, work, netns, load))
            print(f"\n== {kind}: {n} {unit}s per run ({'threads' if kind == 'storm' else 'connections'}: {k}), {rounds} rounds, tools alternating")
            report(results, unit, width=20, who="process")


if __name__ == "__main__":
    main()
