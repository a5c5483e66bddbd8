#!/usr/bin/env bash
# Kernel-side and agent-side CPU cost of the `tcp` source (root). Two workloads:
#
# 1. Connection storm: CONNECTIONS loopback connections (connect, "ping"/"pong", close
#    both ends: 4 lifecycle events each) from THREADS client threads. Prints per program
#    (bpftool prog show -j; kernel.bpf_stats_enabled=1 is set and restored) the runs and
#    ns per run: the lifecycle program (`kotel_tcp_state`, also ns per event), the
#    RTT program (`kotel_tcp_rtt`, `tp_btf/tcp_probe`: every segment established sockets
#    receive, a sample for those acknowledging new data),
#    and the agent's utime+stime (/proc/PID/stat) per event.
# 2. Request/response: REQUESTS 64-byte requests and answers on one persistent loopback
#    connection (TCP_NODELAY; client and server are two processes; a C loop when `cc`
#    exists, else Python; both pinned to CPU RR_CPU, default 0), ROUNDS times with the
#    agent attached and detached in turn.
#    Prints the RTT path's runs per request and ns per run, and the workload's own CPU
#    (utime+stime of both processes, which includes the kernel programs run in their
#    context) per request: the median of the rounds, attached vs detached.
#
# kernel.bpf_stats_enabled is global: another benchmark restoring it mid-run zeroes the
# kernel figures. The bpf_stats numbers repeat within a few percent; CPU per request is
# noisier on shared VMs (see notes/testbed.md "Measuring cost"): compare the difference
# with the kernel ns per request, which it should not contradict.
#
# Environment: CONNECTIONS (default 20000), THREADS (4), REQUESTS (100000), ROUNDS (3),
# WAKEUP_BYTES (the tcp source's `wakeup_bytes`; unset = the config default), KOTEL_BIN
# (default: target/release/kotel, (re)built here).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${CONNECTIONS:-20000}
THREADS=${THREADS:-4}
REQUESTS=${REQUESTS:-100000}
ROUNDS=${ROUNDS:-3}
KOTEL_BIN=${KOTEL_BIN:-}
PROGS=(kotel_tcp_state kotel_tcp_rtt kotel_tcp_retransmit kotel_tcp_send_reset kotel_tcp_receive_reset)

log() { printf 'bench: %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "run as root (loads eBPF programs)"; exit 1; }
command -v bpftool >/dev/null || { log "bpftool missing: run scripts/setup.sh"; exit 1; }
command -v python3 >/dev/null || { log "python3 missing (drives the load)"; exit 1; }
if [[ -z $KOTEL_BIN ]]; then
  log "building target/release/kotel"
  cargo build --release --quiet --bin kotel 2>/dev/null || cargo build --release --bin kotel
  KOTEL_BIN=target/release/kotel
fi

work=$(mktemp -d)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
agent=
stop_agent() {
  [[ -n $agent ]] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
  agent=
}
cleanup() {
  stop_agent
  sysctl -qw kernel.bpf_stats_enabled="$old_stats"
  rm -rf "$work"
}
trap cleanup EXIT
sysctl -qw kernel.bpf_stats_enabled=1

wakeup_line=""
[[ -n ${WAKEUP_BYTES:-} ]] && wakeup_line="    wakeup_bytes: $WAKEUP_BYTES"
cat >"$work/pipeline.yaml" <<EOF
sources:
  tcp:
    batch_timeout: 200ms
$wakeup_line
exporters:
  debug:
    verbosity: basic
pipelines:
  logs:
    sources: [tcp]
    exporters: [debug]
EOF

# Starts the agent and waits until every program is attached. Programs that existed
# before (e.g. another kotel on the machine) are remembered as not ours.
start_agent() {
  bpftool prog show -j >"$work/before.json"
  "$KOTEL_BIN" --log info run --config "$work/pipeline.yaml" >"$work/events.txt" 2>"$work/agent.log" &
  agent=$!
  for _ in $(seq 100); do
    grep -q "tcp source attached" "$work/agent.log" && break
    kill -0 "$agent" 2>/dev/null || { log "kotel exited:"; cat "$work/agent.log" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "tcp source attached" "$work/agent.log" || { log "never attached"; cat "$work/agent.log" >&2; exit 1; }
  grep -q "rtt.*=.*true" "$work/agent.log" || log "warning: no RTT program (see the agent log)"
  sleep 0.5
}

# "<name> <run_time_ns> <run_cnt>" per program of the agent: the newest program of that
# name that did not exist before it started (bpftool here cannot show owning pids).
prog_stats() {
  bpftool prog show -j | python3 -c '
import json, sys
names, before = sys.argv[1:-1], {p["id"] for p in json.load(open(sys.argv[-1]))}
progs = [p for p in json.load(sys.stdin) if p["id"] not in before]
for n in names:
    mine = sorted((p for p in progs if p.get("name") == n), key=lambda p: p["id"])
    p = mine[-1] if mine else {}
    print(n, p.get("run_time_ns", 0), p.get("run_cnt", 0))
' "${PROGS[@]}" "$work/before.json"
}
# utime+stime of the agent in ns.
agent_cpu_ns() {
  python3 -c '
import os, sys
f = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print((int(f[11]) + int(f[12])) * 10**9 // os.sysconf("SC_CLK_TCK"))
' "$agent"
}
# Prints per-program deltas between prog_stats snapshot files (pairs of before/after,
# summed), per unit of work.
report() { # units unit-name before after [before after ...]
  python3 - "$@" <<'EOF'
import sys
def load(p): return {l.split()[0]: tuple(map(int, l.split()[1:])) for l in open(p)}
units, unit, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
total = {}
for a, b in zip(files[::2], files[1::2]):
    a, b = load(a), load(b)
    for n in b:
        rt, rc = total.get(n, (0, 0))
        total[n] = (rt + b[n][0] - a[n][0], rc + b[n][1] - a[n][1])
for n, (rt, rc) in total.items():
    if rc:
        print(f"  {n:24} {rc:9} runs ({rc / units:5.2f}/{unit})  {rt / rc:6.0f} ns/run  {rt / units:6.0f} ns/{unit}")
EOF
}

# --- 1. connection storm -----------------------------------------------------------------
start_agent
prog_stats >"$work/s0"
cpu0=$(agent_cpu_ns)
start=$(date +%s%N)
python3 - "$CONNECTIONS" "$THREADS" <<'EOF' &
import socket, sys, threading
n, threads = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1024)
port = srv.getsockname()[1]
def serve():
    for _ in range(n):
        c, _ = srv.accept()
        c.recv(4)
        c.sendall(b"pong")
        c.close()
def clients(k):
    for _ in range(k):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"ping")
        s.recv(4)
        s.close()
server = threading.Thread(target=serve)
server.start()
per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
workers = [threading.Thread(target=clients, args=(k,)) for k in per]
for w in workers: w.start()
for w in workers: w.join()
server.join()
EOF
load=$!
wait "$load"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
sleep 1 # let the agent drain the ring buffer and poll its stats
prog_stats >"$work/s1"
cpu1=$(agent_cpu_ns)
delivered=$(grep -c " pid=$load " "$work/events.txt" || true)
events=$((4 * CONNECTIONS))
echo "== connection storm: $CONNECTIONS connections in $elapsed_ms ms (wakeup_bytes=${WAKEUP_BYTES:-default})"
echo "  events delivered         $delivered of $events (debug exporter lines of the load's pid)"
report "$CONNECTIONS" conn "$work/s0" "$work/s1"
python3 - "$work/s0" "$work/s1" "$events" "$cpu0" "$cpu1" <<'EOF'
import sys
def load(p): return {l.split()[0]: tuple(map(int, l.split()[1:])) for l in open(p)}
a, b, events, cpu0, cpu1 = load(sys.argv[1]), load(sys.argv[2]), *map(int, sys.argv[3:])
rt = b["kotel_tcp_state"][0] - a["kotel_tcp_state"][0]
print(f"  kotel_tcp_state          {rt / events:6.0f} ns/event ({events} events)")
print(f"  agent CPU                {(cpu1 - cpu0) / events:6.0f} ns/event (utime+stime)")
EOF

# --- 2. request/response, attached vs detached ---------------------------------------------
cat >"$work/rr.c" <<'EOF'
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
static double cpu(int who) {
  struct rusage r; getrusage(who, &r);
  return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}
int main(int argc, char **argv) {
  long n = atol(argv[1]); int one = 1; char buf[64] = {0};
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(l, (void *)&a, sizeof a) || listen(l, 1) || getsockname(l, (void *)&a, &len)) return 1;
  if (fork() == 0) {
    int c = accept(l, 0, 0); setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    while (read(c, buf, 64) == 64 && write(c, buf, 64) == 64) {}
    _exit(0);
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(s, (void *)&a, sizeof a)) return 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  double t0 = cpu(RUSAGE_SELF);
  for (long i = 0; i < n; i++)
    if (write(s, buf, 64) != 64 || read(s, buf, 64) != 64) return 1;
  double t1 = cpu(RUSAGE_SELF);
  close(s); wait(0);
  printf("%.0f\n", (t1 - t0 + cpu(RUSAGE_CHILDREN)) * 1e9);
  return 0;
}
EOF
# Both processes on one CPU: cross-CPU wakeups on a VM cost far more than the work and
# vary from run to run with where the scheduler puts them.
pin=""
command -v taskset >/dev/null && pin="taskset -c ${RR_CPU:-0}"
if command -v cc >/dev/null && cc -O2 -o "$work/rr" "$work/rr.c" 2>/dev/null; then
  rr() { $pin "$work/rr" "$REQUESTS"; }
  rr_kind="C loop"
else
  rr() {
    $pin python3 - "$REQUESTS" <<'EOF'
import os, resource, socket, sys
n = int(sys.argv[1])
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
def cpu(who): r = resource.getrusage(who); return r.ru_utime + r.ru_stime
if os.fork() == 0:
    c, _ = srv.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while (m := c.recv(64)):
        c.sendall(m)
    os._exit(0)
s = socket.create_connection(("127.0.0.1", port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = b"x" * 64
t0 = cpu(resource.RUSAGE_SELF)
for _ in range(n):
    s.sendall(msg); s.recv(64)
t1 = cpu(resource.RUSAGE_SELF)
s.close(); os.wait()
print(int(((t1 - t0) + cpu(resource.RUSAGE_CHILDREN)) * 1e9))
EOF
  }
  rr_kind="Python loop"
fi
on=() off=() agent_ns=0 pairs=()
for round in $(seq "$ROUNDS"); do
  [[ -n $agent ]] || start_agent
  prog_stats >"$work/r${round}a"
  cpu0=$(agent_cpu_ns)
  on+=("$(rr)")
  sleep 0.3
  prog_stats >"$work/r${round}b"
  agent_ns=$((agent_ns + $(agent_cpu_ns) - cpu0))
  pairs+=("$work/r${round}a" "$work/r${round}b")
  stop_agent
  off+=("$(rr)")
done
echo "== request/response: $REQUESTS requests on one loopback connection x $ROUNDS rounds ($rr_kind)"
report $((REQUESTS * ROUNDS)) req "${pairs[@]}"
python3 - "$REQUESTS" "$agent_ns" "${on[*]}" "${off[*]}" <<'EOF'
import statistics, sys
n, agent = int(sys.argv[1]), int(sys.argv[2])
on, off = ([int(x) / n for x in a.split()] for a in sys.argv[3:5])
m_on, m_off = statistics.median(on), statistics.median(off)
print(f"  workload CPU             {m_on:6.0f} ns/req attached, {m_off:6.0f} detached ({(m_on - m_off) / m_off * 100:+.1f}%)")
print(f"    rounds attached        {' '.join(f'{x:.0f}' for x in on)}")
print(f"    rounds detached        {' '.join(f'{x:.0f}' for x in off)}")
print(f"  agent CPU                {agent / (n * len(on)):6.0f} ns/req (utime+stime)")
EOF
