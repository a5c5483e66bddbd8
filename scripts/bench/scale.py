#!/usr/bin/env python3
"""Memory of kotel with many containers in the CRI cache and many open connections.

Run by scripts/bench.sh (`scale`) as root. Each round: the fake CRI runtime
(tests/src/bin/kotel-bench-cri.rs) serves CONTAINERS running containers, 5 per pod, each
with a real cgroup v2 directory; `kotel run` starts on the shipped pipeline.yaml with
`k8s_cri.endpoint` pointed at it, self-telemetry every 5 s and the tcp source's
`max_tracked_sockets` at 2.5 × CONNECTIONS (both ends of each connection are local) and is waited for until
`kotel.k8s_cri.cache.containers` reports them all; then storm.c's `hold` mode opens
CONNECTIONS loopback connections in the benchmark's namespace and keeps them open for
HOLD seconds (an `aggregate` interval and a CRI resync pass), then closes them.

Reported per phase: VmRSS of kotel (sampled every 0.5 s, the phase's maximum) and VmHWM
at the end; the memlock of the BPF maps kotel holds (its /proc fdinfo); the tcp
program's counters that say what the connections did to its owner map
(`owner_map_full`, `owner_unknown`: counted per failed insert and per untracked
transition, so several per socket) and to the ring buffer (`ringbuf_full`). They count
all TCP on the machine, the benchmark's and anything else running.
"""
import os
import subprocess
import sys
import tempfile
import time

from benchlib import kotel_tool, scrape, shipped_config, stop, value

TARGET_MIB = 128
CGROUP2 = "/sys/fs/cgroup/unified"


def status(pid, key):
    """VmRSS / VmHWM of pid in MiB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def sample_rss(pid, seconds):
    """Largest VmRSS (MiB) seen over `seconds`, sampled every 0.5 s."""
    peak, end = 0.0, time.time() + seconds
    while time.time() < end:
        peak = max(peak, status(pid, "VmRSS"))
        time.sleep(0.5)
    return peak


def map_memlock(pid):
    """Bytes of memlock of the BPF maps process `pid` holds open (its fdinfo: `map_id`,
    `memlock`), and how many maps."""
    maps = {}
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            info = dict(line.split(":", 1) for line in open(f"/proc/{pid}/fdinfo/{fd}") if ":" in line)
        except OSError:
            continue
        if "map_id" in info:
            maps[int(info["map_id"])] = int(info.get("memlock", "0"))
    return sum(maps.values()), len(maps)


def wait_cached(port, containers, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("bench: the agent exited early")
        cached = value(scrape(port), "kotel_k8s_cri_cache_containers")
        if cached >= containers:
            return time.time()
        time.sleep(1)
    sys.exit(f"bench: the CRI cache held {cached:.0f} of {containers} containers after {timeout} s")


def one(kotel, cri_bin, storm, netns, work, containers, connections, hold, port):
    socket = os.path.join(work, "cri.sock")
    cri = subprocess.Popen([cri_bin, socket, str(containers), CGROUP2], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    if not cri.stdout.readline().startswith("ready"):
        sys.exit("bench: the fake CRI runtime did not start")
    # Both ends of every connection are on this node, and other sockets come and go:
    # room for 2.5 sockets per connection.
    config = shipped_config(work, "scale.yaml", [
        ("endpoint: auto", f"endpoint: unix://{socket}"),
        ("  interval: 30s", "  interval: 5s"),
        ("  tcp: {}", f"  tcp: {{max_tracked_sockets: {5 * connections // 2}}}"),
    ])
    proc = kotel_tool(kotel, port, config, name="kotel-scale").start(work)
    row = {}
    try:
        t0 = time.time()
        wait_cached(port, containers, proc)
        row["cache_s"] = time.time() - t0
        row["idle"] = sample_rss(proc.pid, 6)
        held = subprocess.Popen(["ip", "netns", "exec", netns, storm, "hold", str(connections), "8"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = held.stderr.readline()
        if not line.startswith("held"):
            sys.exit(f"bench: storm hold failed: {line}{held.stderr.read()}")
        row["held"] = sample_rss(proc.pid, hold)
        row["maps"], row["nmaps"] = map_memlock(proc.pid)
        opened = scrape(port)
        held.stdin.close()
        held.wait(timeout=120)
        row["closed"] = sample_rss(proc.pid, 6)
        row["hwm"] = status(proc.pid, "VmHWM")
        final = scrape(port)
        stat = lambda s, name: value(s, "kotel_source_tcp_kernel_events_total", source="tcp", stat=name)
        row["owner_full"] = stat(opened, "owner_map_full")
        row["unknown"] = stat(final, "owner_unknown")
        row["ring_lost"] = stat(final, "ringbuf_full")
        row["cached"] = value(final, "kotel_k8s_cri_cache_containers")
    finally:
        stop(proc)
        cri.stdin.close()
        cri.wait(timeout=60)
    return row


def main():
    kotel, cri_bin, storm, netns, rounds, containers, connections, hold = sys.argv[1:9]
    port = int(os.environ.get("BENCH_PROMETHEUS_PORT", "19464"))
    print(f"\n== scale: {containers} containers in the CRI cache (fake runtime, real cgroup dirs), "
          f"{connections} open loopback connections held {hold} s; target: RSS under {TARGET_MIB} MiB")
    print(f"{'cache filled':>12} {'RSS idle':>9} {'RSS held':>9} {'RSS closed':>10} {'VmHWM':>7} "
          f"{'BPF maps':>13} {'owner_map_full':>14} {'owner_unknown':>13} {'ringbuf_full':>12} {'cached':>6}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as work:
        for _ in range(int(rounds)):
            r = one(kotel, cri_bin, storm, netns, work, int(containers), int(connections), int(hold), port)
            worst = max(worst, r["hwm"])
            print(f"{r['cache_s']:10.1f} s {r['idle']:5.1f} MiB {r['held']:5.1f} MiB {r['closed']:6.1f} MiB "
                  f"{r['hwm']:5.1f} M {r['maps'] / 2**20:6.1f} MiB/{r['nmaps']:2d} {r['owner_full']:14.0f} "
                  f"{r['unknown']:13.0f} {r['ring_lost']:12.0f} "
                  f"{r['cached']:6.0f}", flush=True)
    print(f"\nlargest VmHWM {worst:.1f} MiB: {'within' if worst < TARGET_MIB else 'OVER'} the {TARGET_MIB} MiB target")


if __name__ == "__main__":
    main()
