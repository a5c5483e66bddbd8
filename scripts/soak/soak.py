#!/usr/bin/env python3
"""The soak: kotel on the shipped pipeline.yaml for SOAK_MINUTES under a steady loopback
connection load, exporting OTLP to a real receiver (rotel) that is stopped and started on
a schedule (up SOAK_UP_SECONDS, down SOAK_DOWN_SECONDS, repeating).

Every second it samples the agent; every 10 s it writes a CSV row (time, receiver phase,
RSS, CPU share since the last row, the OTLP exporter's sent/dropped/retried counters and
queue depth, the tcp source's events, the connections made). It fails (exit 1), saying
why, when:
  - RSS ever exceeds SOAK_RSS_MAX_MIB (128: the scale target of issue 7);
  - RSS at the end of the last receiver-up phase exceeds that at the end of the first by
    more than SOAK_RSS_GROWTH_MIB (16): growth across cycles is a leak, since the queue
    is empty again at the end of every up phase;
  - export does not resume within SOAK_RESUME_SECONDS (60: the default retry waits at
    most 30 s, jittered up to 45 s, plus one 15 s collection) of a receiver start;
  - the agent dies, or does not exit 0 within 15 s of SIGTERM at the end.

Usage (scripts/soak.sh sets it up): soak.py KOTEL_BIN ROTEL_AGENT PIPELINE OUT_DIR
"""

import csv
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request


def env(name, default):
    return type(default)(os.environ.get(name, default))


MINUTES = env("SOAK_MINUTES", 30.0)
UP = env("SOAK_UP_SECONDS", 90)
DOWN = env("SOAK_DOWN_SECONDS", 60)
RATE = env("SOAK_CONN_RATE", 200)
RSS_MAX_MIB = env("SOAK_RSS_MAX_MIB", 128)
GROWTH_MIB = env("SOAK_RSS_GROWTH_MIB", 16)
RESUME_S = env("SOAK_RESUME_SECONDS", 60)
ROW_EVERY = 10
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Load(threading.Thread):
    """RATE connections a second to a listener of its own (server closes first)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self.listener.getsockname()[1]
        self.made = 0
        self.stopped = threading.Event()

    def run(self):
        every, due = 1.0 / RATE, time.monotonic()
        while not self.stopped.is_set():
            client = socket.create_connection(("127.0.0.1", self.port))
            server, _ = self.listener.accept()
            server.close()
            client.recv(1)
            client.close()
            self.made += 1
            due += every
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            else:
                due = time.monotonic()


class Receiver:
    """rotel-agent on two loopback ports, its output discarded (blackhole exporter)."""

    def __init__(self, binary, out_dir):
        self.binary, self.out_dir = binary, out_dir
        self.grpc, self.http = free_port(), free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "start", "--otlp-grpc-endpoint", f"127.0.0.1:{self.grpc}",
             "--otlp-http-endpoint", f"127.0.0.1:{self.http}", "--exporter", "blackhole",
             "--pid-file", f"{self.out_dir}/rotel.pid", "--log-file", f"{self.out_dir}/rotel.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("ROTEL_")})
        wait_for(lambda: accepts(self.grpc), 10, "rotel listening")

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def wait_for(done, seconds, what):
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"soak: {what}: not within {seconds} s")
        time.sleep(0.05)


def scrape(port):
    """{sample name: [(labels dict, value)]} from the Prometheus endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, labels = series.partition("{")
        pairs = dict(p.split("=", 1) for p in labels.rstrip("}").split(",") if "=" in p)
        samples.setdefault(name, []).append(({k: v.strip('"') for k, v in pairs.items()}, float(value)))
    return samples


def total(samples, name, **labels):
    return sum(v for l, v in samples.get(name, []) if all(l.get(k) == x for k, x in labels.items()))


def proc(pid):
    """(RSS KiB, CPU seconds) of process pid."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / TICKS


def main():
    kotel, rotel, pipeline, out_dir = sys.argv[1:5]
    os.makedirs(out_dir, exist_ok=True)
    receiver = Receiver(rotel, out_dir)
    receiver.start()
    prometheus = free_port()
    agent_env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.grpc}",
                     KOTEL_PROMETHEUS_LISTEN=f"127.0.0.1:{prometheus}", KOTEL_LOG="info")
    with open(f"{out_dir}/agent.out", "w") as out, open(f"{out_dir}/agent.log", "w") as log:
        agent = subprocess.Popen([kotel, "run", "--config", pipeline], stdout=out, stderr=log, env=agent_env)
    try:
        failures = soak(agent, receiver, prometheus, out_dir)
    finally:
        receiver.stop()
    started = time.monotonic()
    if agent.poll() is None:
        agent.terminate()
        try:
            code = agent.wait(15)
        except subprocess.TimeoutExpired:
            agent.kill()
            code = "none within 15 s"
        took = time.monotonic() - started
        print(f"soak: SIGTERM: exit {code} after {took:.2f} s")
        if code != 0:
            failures.append(f"exit status {code} after SIGTERM")
    for f in failures:
        print(f"soak: FAIL: {f}")
    print(f"soak: {'FAILED' if failures else 'passed'}; CSV and logs in {out_dir}")
    return 1 if failures else 0


def soak(agent, receiver, prometheus, out_dir):
    wait_for(lambda: accepts(prometheus), 30, "the agent's Prometheus endpoint")
    load = Load()
    load.start()
    failures, resumes, up_end_rss = [], [], []
    rss_peak = 0
    begin = time.monotonic()
    end = begin + MINUTES * 60
    up_since, sent_at_up, resumed = begin, 0.0, True
    last_cpu, last_row = proc(agent.pid)[1], begin
    with open(f"{out_dir}/soak.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["seconds", "receiver", "rss_kib", "cpu_percent", "otlp_sent", "otlp_dropped",
                       "otlp_retries", "otlp_queue_requests", "otlp_queue_bytes", "tcp_events",
                       "connections_made"])
        tick = 0
        while time.monotonic() < end:
            tick += 1
            time.sleep(max(0.0, begin + tick - time.monotonic()))
            if agent.poll() is not None:
                failures.append(f"the agent exited with {agent.returncode} after {time.monotonic() - begin:.0f} s")
                break
            now = time.monotonic()
            phase_up = (now - begin) % (UP + DOWN) < UP
            samples = scrape(prometheus)
            sent = total(samples, "kotel_exporter_otlp_sent_total")
            if phase_up and receiver.process is None:
                receiver.start()
                up_since, sent_at_up, resumed = now, sent, False
            elif not phase_up and receiver.process is not None:
                if not resumed:
                    failures.append(f"export did not resume in the up phase from {up_since - begin:.0f} s")
                up_end_rss.append(proc(agent.pid)[0])
                receiver.stop()
            if phase_up and not resumed and sent > sent_at_up:
                resumed = True
                resumes.append(now - up_since)
            if phase_up and not resumed and now - up_since > RESUME_S:
                failures.append(f"export did not resume within {RESUME_S} s of the receiver start at {up_since - begin:.0f} s")
                resumed = True  # reported once
            rss, cpu = proc(agent.pid)
            rss_peak = max(rss_peak, rss)
            if tick % ROW_EVERY == 0:
                rows.writerow([round(now - begin), "up" if phase_up else "down", rss,
                               round(100 * (cpu - last_cpu) / (now - last_row), 1), sent,
                               total(samples, "kotel_exporter_otlp_dropped_total"),
                               total(samples, "kotel_exporter_otlp_retries_total"),
                               total(samples, "kotel_exporter_otlp_queue_requests"),
                               total(samples, "kotel_exporter_otlp_queue_bytes"),
                               total(samples, "kotel_component_events_received_total",
                                     component_id="tcp", component_kind="source"),
                               load.made])
                f.flush()
                last_cpu, last_row = cpu, now
    load.stopped.set()
    if rss_peak > RSS_MAX_MIB * 1024:
        failures.append(f"RSS peaked at {rss_peak} KiB, over {RSS_MAX_MIB} MiB")
    if len(up_end_rss) >= 2 and up_end_rss[-1] > up_end_rss[0] + GROWTH_MIB * 1024:
        failures.append(f"RSS grew across cycles: {up_end_rss} KiB at the ends of the up phases")
    delays = ", ".join(f"{d:.0f}" for d in resumes)
    print(f"soak: {MINUTES} min, receiver up {UP} s / down {DOWN} s, {load.made} connections; "
          f"RSS peak {rss_peak} KiB, at the ends of the up phases {up_end_rss} KiB; "
          f"export resumed {delays} s after each receiver start")
    return failures


if __name__ == "__main__":
    sys.exit(main())
