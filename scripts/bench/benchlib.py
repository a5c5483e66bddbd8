"""What every scripts/bench/*.py driver measures with: the kernel time of BPF programs
(bpf stats), a process's CPU time (schedstat), a tool started and waited for, and one
measured run of a load inside the benchmark's network namespace ([`measure`]).

Contract: `measure` returns {"ops", "wall", "load_cpu"} as the load printed them
("<operations> <wall ns> <cpu ns>", storm.c's last line), "kernel" (ns the tool's own
programs ran: those that appeared when it started) and "runs" (per program name:
(ns, runs)), and "user" (the tool's CPU ns) over the load plus 1 s of draining.
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
    return {i: (p["name"], p.get("run_time_ns", 0), p.get("run_cnt", 0)) for i, p in progs_full().items()}


def progs_full():
    """id -> every field bpftool shows of each loaded BPF program (name, run_time_ns,
    run_cnt, recursion_misses, ...; missing counters read as 0)."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], check=True, capture_output=True).stdout
    return {p["id"]: {"name": p.get("name", "?"), "recursion_misses": p.get("recursion_misses", 0), **p}
            for p in json.loads(out)}


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


def kotel_tool(kotel, prometheus_port, config=None, name="kotel", extra_env=None):
    """`kotel run` on `config` (default: the shipped pipeline.yaml), ready when its three
    kernel sources say they are attached; its Prometheus endpoint on `prometheus_port`."""
    env = {"KOTEL_PROMETHEUS_LISTEN": f"127.0.0.1:{prometheus_port}", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}
    env.update(extra_env or {})
    return Tool(name, [kotel, "--log", "info", "run", "--config", config or os.path.join(REPO, "pipeline.yaml")],
                ["tcp source attached", "exec source attached", "file_open source attached"], "err", env)


def measure(tool, work, netns, load, probe=None):
    """One round of `load` under `tool`; `probe(proc)`, when given, runs after the drain
    and before the tool stops, and what it returns is kept as "probe"."""
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
    try:
        probed = probe(proc) if probe and proc else None
    finally:
        if proc:
            stop(proc)
    return {"ops": ops, "wall": wall, "load_cpu": load_cpu, "kernel": kernel, "user": cpu1 - cpu0, "runs": runs,
            "probe": probed}


def spread(values):
    return f"{statistics.median(values):8.0f}  [{min(values):.0f}–{max(values):.0f}]"


def report(results, unit, width=20, who="process"):
    """Prints what `measure` gave per tool (name -> runs, "none" the baseline): the cost
    per `unit` all-in, in the kernel and in the tool's process; the load's wall-clock
    slowdown against "none"; and each BPF program's cost in the median round."""
    print(f"{'tool':{width}} {'ns/' + unit + ' all-in':>26} {'kernel (BPF)':>26} {'user (' + who + ')':>26}")
    for name, runs in results.items():
        if name == "none":
            continue
        per = lambda key: [r[key] / r["ops"] for r in runs]
        total = [(r["kernel"] + r["user"]) / r["ops"] for r in runs]
        print(f"{name:{width}} {spread(total):>26} {spread(per('kernel')):>26} {spread(per('user')):>26}")
    print(f"\nwall-clock per {unit} of the load (ns; slowdown = median of per-round ratios to 'none'):")
    for name, runs in results.items():
        walls = [r["wall"] / r["ops"] for r in runs]
        ratios = [r["wall"] / b["wall"] for r, b in zip(runs, results["none"])]
        print(f"  {name:{width}} {spread(walls)}   slowdown {100 * (statistics.median(ratios) - 1):+5.1f}% "
              f"[{100 * (min(ratios) - 1):+.1f}%…{100 * (max(ratios) - 1):+.1f}%]")
    print(f"\nkernel cost per program (median round; ns per run, runs per {unit}):")
    for name, runs in results.items():
        if name == "none":
            continue
        mid = sorted(runs, key=lambda r: r["kernel"])[len(runs) // 2]
        for prog, (t, c) in sorted(mid["runs"].items()):
            if c:
                print(f"  {name:{width}} {prog:28} {t / c:7.0f} ns/run {c / mid['ops']:6.2f} runs/{unit}")




def scrape(port):
    """The agent's Prometheus endpoint as {(name, frozenset of label pairs): value}; {} when
    it does not answer."""
    import re
    import urllib.request
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return {}
    series = {}
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$', line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            series[(m.group(1), labels)] = float(m.group(3))
    return series


def value(series, name, **labels):
    """Sum of the series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in series.items() if n == name and want <= ls)


def settled(port, keys, proc, timeout=30):
    """Scrapes until the values of `keys` ((name, labels) pairs) are the same in two scrapes
    1.5 s apart (the agent polls kernel counters every second and snapshots its telemetry
    every `telemetry.interval`, 1 s in the configs made here); returns the last scrape."""
    deadline, last = time.time() + timeout, None
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit("bench: the agent exited early")
        series = scrape(port)
        now = [value(series, n, **ls) for n, ls in keys]
        if series and now == last:
            return series
        last = now
        time.sleep(1.5)
    sys.exit(f"bench: the agent's counters did not settle within {timeout} s")


def shipped_config(work, name, replace):
    """The shipped pipeline.yaml with each (old, new) text of `replace` substituted (each
    must occur), written to `work`/`name`; returns its path."""
    text = open(os.path.join(REPO, "pipeline.yaml")).read()
    for old, new in replace:
        if old not in text:
            sys.exit(f"bench: pipeline.yaml no longer contains {old!r}")
        text = text.replace(old, new)
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def stop(proc):
    """SIGTERM, then SIGKILL after 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
