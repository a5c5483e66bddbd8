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
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def progs():
    """id -> (name, run_time_ns, run_cnt) of every loaded BPF program."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], check=True, capture_output=True).stdout
    return {p["id"]: (p.get("name", "?"), p.get("run_time_ns", 0), p.get("run_cnt", 0)) for p in json.loads(out)}


def cpu_ns(pid):
    """CPU time of every live thread of pid in ns, from /proc/PID/task/*/schedstat (ns
    resolution, unlike the 10 ms ticks of /proc/PID/stat); 0 once it is gone."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for task in tasks:
        try:
            total += int(open(f"/proc/{pid}/task/{task}/schedstat").read().split()[0])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return total


def wait_for(path, needles, proc, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = open(path, errors="replace").read() if os.path.exists(path) else ""
        if all(n in text for n in needles):
            return
        if proc.poll() is not None:
            sys.exit(f"bench: the tool exited early:\n{text}")
        time.sleep(0.05)
    sys.exit(f"bench: the tool did not start within {timeout} s:\n{open(path).read()}")


class Tool:
    def __init__(self, name, argv, ready, log_name, env=None):
        self.name, self.argv, self.ready, self.log_name, self.env = name, argv, ready, log_name, env

    def start(self, work):
        if self.argv is None:
            return None
        out = open(os.path.join(work, f"{self.name}.out"), "w")
        err_path = os.path.join(work, f"{self.name}.err")
        err = open(err_path, "w")
        env = dict(os.environ, **(self.env or {}))
        proc = subprocess.Popen(self.argv, stdout=out, stderr=err, env=env, cwd=REPO)
        log = os.path.join(work, f"{self.name}.{self.log_name}")
        wait_for(log, self.ready, proc)
        time.sleep(0.5)
        return proc


def tools(kotel, prometheus_port):
    bt = ["bpftrace", "-B", "full"]
    return [
        Tool("none", None, [], "out"),
        Tool("kotel", [kotel, "--log", "info", "run", "--config", os.path.join(REPO, "pipeline.yaml")],
             ["tcp source attached", "exec source attached", "file_open source attached"], "err",
             {"KOTEL_PROMETHEUS_LISTEN": f"127.0.0.1:{prometheus_port}", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}),
        Tool("bpftrace-aggregate", bt + [os.path.join(HERE, "peer-aggregate.bt")], ["Attaching"], "out"),
        Tool("bpftrace-events", bt + [os.path.join(HERE, "peer-events.bt")], ["Attaching"], "out"),
    ]


def measure(tool, work, netns, load):
    before = progs()
    proc = tool.start(work)
    base = progs()
    mine = [i for i in base if i not in before]
    cpu0 = cpu_ns(proc.pid) if proc else 0
    out = subprocess.run(["ip", "netns", "exec", netns, *load], check=True, capture_output=True, text=True).stdout
    ops, wall, load_cpu = map(int, out.split())
    time.sleep(1.0)  # the tool drains what the load made; its idle cost is counted too
    after = progs()
    cpu1 = cpu_ns(proc.pid) if proc else 0
    kernel = sum(after[i][1] - base[i][1] for i in mine if i in after)
    runs = {}
    for i in mine:
        if i in after:
            name = after[i][0]
            t, c = runs.get(name, (0, 0))
            runs[name] = (t + after[i][1] - base[i][1], c + after[i][2] - base[i][2])
    if proc:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {"ops": ops, "wall": wall, "load_cpu": load_cpu, "kernel": kernel, "user": cpu1 - cpu0, "runs": runs}


def spread(values):
    return f"{statistics.median(values):8.0f}  [{min(values):.0f}–{max(values):.0f}]"


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
            print(f"{'tool':20} {'ns/' + unit + ' all-in':>26} {'kernel (BPF)':>26} {'user (process)':>26}")
            for name, runs in results.items():
                if name == "none":
                    continue
                per = lambda key: [r[key] / r["ops"] for r in runs]
                total = [(r["kernel"] + r["user"]) / r["ops"] for r in runs]
                print(f"{name:20} {spread(total):>26} {spread(per('kernel')):>26} {spread(per('user')):>26}")
            print(f"\nwall-clock per {unit} of the load (ns; slowdown = median of per-round ratios to 'none'):")
            for name, runs in results.items():
                walls = [r["wall"] / r["ops"] for r in runs]
                ratios = [r["wall"] / b["wall"] for r, b in zip(runs, results["none"])]
                print(f"  {name:20} {spread(walls)}   slowdown {100 * (statistics.median(ratios) - 1):+5.1f}% [{100 * (min(ratios) - 1):+.1f}%…{100 * (max(ratios) - 1):+.1f}%]")
            print(f"\nkernel cost per program (median round; ns per run, runs per {unit}):")
            for name, runs in results.items():
                if name == "none":
                    continue
                mid = sorted(runs, key=lambda r: r["kernel"])[len(runs) // 2]
                for prog, (t, c) in sorted(mid["runs"].items()):
                    if c:
                        print(f"  {name:20} {prog:28} {t / c:7.0f} ns/run {c / mid['ops']:6.2f} runs/{unit}")


if __name__ == "__main__":
    main()
