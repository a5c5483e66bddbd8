#!/usr/bin/env python3
"""Cost per connection of kotel as a function of the connection rate.

Run by scripts/bench.sh (`rate`) as root. For each target rate and round, `kotel run`
starts on the shipped pipeline.yaml and storm.c's `rate` mode paces loopback
connections (connect, ping, pong, close) at that rate for SECONDS in the benchmark's
namespace; the cost is measured as by `cost` (benchlib.measure: kernel ns of kotel's own
BPF programs + kotel's CPU ns, over the load and 1 s of draining, divided by the
connections). A rate the machine cannot reach shows as a lower achieved rate; the agent's
share of a core is (kernel + user ns) / wall ns of the load.
"""
import os
import statistics
import sys
import tempfile

from benchlib import kotel_tool, measure, spread


def main():
    kotel, storm, netns, rounds, seconds = sys.argv[1:6]
    rates = sys.argv[6:]
    port = int(os.environ.get("BENCH_PROMETHEUS_PORT", "19464"))
    print(f"\n== rate: paced connect/ping/pong/close, {seconds} s per run, {rounds} rounds, kotel on pipeline.yaml")
    print(f"{'target/s':>9} {'achieved/s':>22} {'ns/connection all-in':>26} {'kernel (BPF)':>26} "
          f"{'user (process)':>26} {'agent % of a core':>18}")
    with tempfile.TemporaryDirectory() as work:
        for rate in rates:
            runs = [measure(kotel_tool(kotel, port), work, netns, [storm, "rate", rate, seconds, "4"])
                    for _ in range(int(rounds))]
            achieved = [r["ops"] * 1e9 / r["wall"] for r in runs]
            total = [(r["kernel"] + r["user"]) / r["ops"] for r in runs]
            kernel = [r["kernel"] / r["ops"] for r in runs]
            user = [r["user"] / r["ops"] for r in runs]
            share = [100 * (r["kernel"] + r["user"]) / (r["wall"] + 1e9) for r in runs]
            print(f"{rate:>9} {spread(achieved):>22} {spread(total):>26} {spread(kernel):>26} {spread(user):>26} "
                  f"{statistics.median(share):7.1f} [{min(share):.1f}–{max(share):.1f}]", flush=True)


if __name__ == "__main__":
    main()
