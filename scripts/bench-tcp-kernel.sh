#!/usr/bin/env bash
# Kernel-side and agent-side CPU cost of the `tcp` source per event (root).
#
# Runs `kotel run` with a pipeline of one tcp source -> debug exporter (to /dev/null),
# makes CONNECTIONS loopback connections (connect, "ping"/"pong", close both ends: 4 events
# each: connect, accept, 2x close) from THREADS client threads, and prints
#   - the program's run count and run time (bpftool prog show -j; needs
#     kernel.bpf_stats_enabled=1, which this script sets and restores),
#   - kernel ns per program run and per emitted event,
#   - the agent's utime+stime (/proc/PID/stat) per event.
# Repeat runs agree within a few percent; wall-clock ratios on these VMs do not (see
# notes/testbed.md).
#
# The debug exporter writes to a temp file; its lines for the load's pid show whether every
# event arrived (no ring-buffer loss).
#
# Environment: CONNECTIONS (default 20000), THREADS (4), WAKEUP_BYTES (the tcp source's
# `wakeup_bytes`; unset = the config default), KOTEL_BIN (default: target/release/kotel,
# (re)built here).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${CONNECTIONS:-20000}
THREADS=${THREADS:-4}
KOTEL_BIN=${KOTEL_BIN:-}
PROG_NAME=kotel_tcp_state

log() { printf 'bench: %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "run as root (loads eBPF programs)"; exit 1; }
command -v bpftool >/dev/null || { log "bpftool missing: run scripts/setup.sh"; exit 1; }
command -v python3 >/dev/null || { log "python3 missing (drives the connection load)"; exit 1; }
if [[ -z $KOTEL_BIN ]]; then
  log "building target/release/kotel"
  cargo build --release --quiet --bin kotel 2>/dev/null || cargo build --release --bin kotel
  KOTEL_BIN=target/release/kotel
fi

work=$(mktemp -d)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
agent=
cleanup() {
  [[ -n $agent ]] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
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

"$KOTEL_BIN" --log info run --config "$work/pipeline.yaml" >"$work/events.txt" 2>"$work/agent.log" &
agent=$!

# "<run_time_ns> <run_cnt>" of the agent's program (matched by owning pid, else by name).
prog_stats() {
  bpftool prog show -j | python3 -c '
import json, sys
progs = [p for p in json.load(sys.stdin) if p.get("name") == sys.argv[1]]
mine = [p for p in progs if any(x.get("pid") == int(sys.argv[2]) for x in p.get("pids", []))]
p = (mine or progs or [None])[-1]
print(p.get("run_time_ns", 0), p.get("run_cnt", 0)) if p else print("")
' "$PROG_NAME" "$agent"
}
# utime+stime of the agent in ns.
agent_cpu_ns() {
  python3 -c '
import os, sys
f = open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()
print((int(f[11]) + int(f[12])) * 10**9 // os.sysconf("SC_CLK_TCK"))
' "$agent"
}

for _ in $(seq 100); do
  [[ -n $(prog_stats) ]] && break
  kill -0 "$agent" 2>/dev/null || { log "kotel exited:"; cat "$work/agent.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n $(prog_stats) ]] || { log "program $PROG_NAME never appeared"; cat "$work/agent.log" >&2; exit 1; }
sleep 0.5

read -r rt0 rc0 < <(prog_stats)
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
read -r rt1 rc1 < <(prog_stats)
cpu1=$(agent_cpu_ns)
delivered=$(grep -c " pid=$load " "$work/events.txt" || true)

python3 - "$CONNECTIONS" "$rt0" "$rc0" "$rt1" "$rc1" "$cpu0" "$cpu1" "$elapsed_ms" "$delivered" "${WAKEUP_BYTES:-default}" <<'EOF'
import sys
conns, rt0, rc0, rt1, rc1, cpu0, cpu1, ms, delivered = map(int, sys.argv[1:10])
events = 4 * conns
runs, rt, cpu = rc1 - rc0, rt1 - rt0, cpu1 - cpu0
print(f"connections        {conns} in {ms} ms (wakeup_bytes={sys.argv[10]})")
print(f"events delivered   {delivered} of {events} (debug exporter lines of the load's pid)")
print(f"program runs       {runs} ({runs / conns:.1f} per connection)")
print(f"kernel ns/run      {rt / max(runs, 1):.0f}")
print(f"kernel ns/event    {rt / events:.0f}   ({events} events)")
print(f"agent  ns/event    {cpu / events:.0f}   (utime+stime {cpu / 1e6:.0f} ms)")
EOF
