#!/usr/bin/env bash
# Kernel-side and agent-side CPU cost of the `exec` source per exec (root).
#
# Runs `kotel run` with one exec source -> debug exporter (to a temp file), makes EXECS
# execs of /bin/true with ARGC arguments of ARG_BYTES bytes each (fork + exec from a bash
# loop), and prints the program's run count and run time (bpftool prog show -j, with
# kernel.bpf_stats_enabled=1, set and restored here), kernel ns per run (one run per exec
# on the machine), and the agent's utime+stime (/proc/PID/stat) per exec.
#
# Environment: EXECS (default 5000), ARGC (4), ARG_BYTES (16), HOOK (the source's `hook`:
# auto, tp_btf or tracepoint; default auto), WAKEUP_EVENTS (the source's `wakeup_events`;
# unset = the config default), KOTEL_BIN (default: target/release/kotel, (re)built here).
set -euo pipefail
cd "$(dirname "$0")/.."

EXECS=${EXECS:-5000}
ARGC=${ARGC:-4}
ARG_BYTES=${ARG_BYTES:-16}
KOTEL_BIN=${KOTEL_BIN:-}
HOOK=${HOOK:-auto}

log() { printf 'bench: %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "run as root (loads eBPF programs)"; exit 1; }
command -v bpftool >/dev/null || { log "bpftool missing: run scripts/setup.sh"; exit 1; }
command -v python3 >/dev/null || { log "python3 missing"; exit 1; }
if [[ -z $KOTEL_BIN ]]; then
  log "building target/release/kotel"
  cargo build --release --quiet --bin kotel
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

{
  echo "sources:"
  echo "  exec:"
  echo "    batch_timeout: 200ms"
  echo "    hook: $HOOK"
  [[ -n ${WAKEUP_EVENTS:-} ]] && echo "    wakeup_events: $WAKEUP_EVENTS"
  echo "exporters: { debug: { verbosity: basic } }"
  echo "pipelines: { logs: { sources: [exec], exporters: [debug] } }"
} >"$work/pipeline.yaml"

"$KOTEL_BIN" --log info run --config "$work/pipeline.yaml" >"$work/events.txt" 2>"$work/agent.log" &
agent=$!

# "<run_time_ns> <run_cnt> <name>" of the agent's exec program (whichever hook it chose;
# matched by owning pid when bpftool reports pids, else the newest by name; bpftool cuts
# names to 15 characters).
prog_stats() {
  bpftool prog show -j | python3 -c '
import json, sys
progs = [p for p in json.load(sys.stdin) if p.get("name", "").startswith("kotel_exec")]
mine = [p for p in progs if any(x.get("pid") == int(sys.argv[1]) for x in p.get("pids", []))]
p = (mine or progs or [None])[-1]
print(p.get("run_time_ns", 0), p.get("run_cnt", 0), p["name"]) if p else print("")
' "$agent"
}
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
[[ -n $(prog_stats) ]] || { log "no kotel_exec program appeared"; cat "$work/agent.log" >&2; exit 1; }
sleep 0.5

marker="kotel-bench-$$"
args=("$marker")
for ((i = 1; i < ARGC; i++)); do args+=("$(printf '%*s' "$ARG_BYTES" '' | tr ' ' x)"); done

read -r rt0 rc0 prog < <(prog_stats)
cpu0=$(agent_cpu_ns)
start=$(date +%s%N)
for ((i = 0; i < EXECS; i++)); do /bin/true "${args[@]}"; done
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
sleep 1 # let the agent drain the ring buffer
read -r rt1 rc1 _ < <(prog_stats)
cpu1=$(agent_cpu_ns)
delivered=$(grep -c -- " $marker " "$work/events.txt" || true)

python3 - "$EXECS" "$rt0" "$rc0" "$rt1" "$rc1" "$cpu0" "$cpu1" "$elapsed_ms" "$delivered" \
  "${WAKEUP_EVENTS:-default}" "$ARGC" "$ARG_BYTES" "$prog" <<'PY'
import sys
execs, rt0, rc0, rt1, rc1, cpu0, cpu1, ms, delivered = map(int, sys.argv[1:10])
runs, rt, cpu = rc1 - rc0, rt1 - rt0, cpu1 - cpu0
print(f"execs              {execs} in {ms} ms, argc {sys.argv[11]} (args of {sys.argv[12]} bytes)")
print(f"program            {sys.argv[13]}, wakeup_events={sys.argv[10]}")
print(f"events delivered   {delivered} of {execs} (debug exporter lines with the marker)")
print(f"program runs       {runs} (every exec on the machine)")
print(f"kernel ns/run      {rt / max(runs, 1):.0f}")
print(f"agent  ns/exec     {cpu / max(runs, 1):.0f}   (utime+stime {cpu / 1e6:.0f} ms)")
PY
