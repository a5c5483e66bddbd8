#!/usr/bin/env bash
# Workload slowdown with kotel attached versus detached (root).
#
# Runs tests/src/bin/kotel-bench-rr (loopback request/response round trips plus short
# connections, client and server in one process) RUNS times without the agent and RUNS
# times with `kotel run` on a pipeline of every kernel source (tcp, exec, file_open) into
# a debug exporter writing to a file. Reports, per operation:
#   - the workload's own CPU (user+system) without and with the agent: the slowdown the
#     workload feels, kernel program time included (it runs in the workload's context);
#   - the agent's CPU and each program's bpf run time (kernel.bpf_stats_enabled=1).
# CPU per operation is stable on these shared vCPUs; wall-clock ratios are not.
#
# Environment: RUNS (default 3), ROUNDS (50000), CONNECTIONS (5000).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
ROUNDS=${ROUNDS:-50000}
CONNECTIONS=${CONNECTIONS:-5000}
log() { printf 'bench: %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "run as root (loads eBPF programs)"; exit 1; }

cargo build --release --quiet --bin kotel -p kotel
cargo build --release --quiet --bin kotel-bench-rr -p kotel-integration-tests
KOTEL=target/release/kotel
RR=target/release/kotel-bench-rr

work=$(mktemp -d)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
agent=
cleanup() {
  [[ -n $agent ]] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
  sysctl -qw kernel.bpf_stats_enabled="$old_stats"
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/pipeline.yaml" <<YAML
sources:
  tcp: {}
  exec: {}
  file_open: { paths: [/etc/shadow, /root/.ssh/] }
exporters:
  debug: { verbosity: basic }
pipelines:
  logs: { sources: [tcp, exec, file_open], exporters: [debug] }
telemetry: { interval: 0s }
YAML

workload() { "$RR" "$ROUNDS" "$CONNECTIONS" | sed -n 's/.*cpu_ns_per_op=\([0-9]*\).*/\1/p'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

log "without the agent ($RUNS runs)"
without=$(for _ in $(seq "$RUNS"); do workload; done | median)

sysctl -qw kernel.bpf_stats_enabled=1
"$KOTEL" run --config "$work/pipeline.yaml" > "$work/events.txt" 2> "$work/agent.log" &
agent=$!
for _ in $(seq 100); do grep -q "kotel running" "$work/agent.log" && grep -q "file_open" "$work/agent.log" && break; sleep 0.1; done
sleep 1
prog_ns() { bpftool prog show -j | python3 -c '
import json, sys
total = 0
for p in json.load(sys.stdin):
    if p.get("name", "").startswith("kotel_"):
        total += p.get("run_time_ns", 0)
print(total)'; }
agent_cpu() { awk '{print ($14 + $15) * 10000000}' "/proc/$agent/stat"; }  # clock ticks -> ns (USER_HZ 100)

log "with the agent ($RUNS runs)"
k0=$(prog_ns); a0=$(agent_cpu)
with=$(for _ in $(seq "$RUNS"); do workload; done | median)
k1=$(prog_ns); a1=$(agent_cpu)
ops=$(( RUNS * (ROUNDS + CONNECTIONS) ))

printf 'workload CPU per operation   without %s ns, with %s ns (%+.1f%%)\n' "$without" "$with" \
  "$(python3 -c "print(($with - $without) * 100 / $without)")"
printf 'kernel programs per operation %s ns (all kotel programs, bpf stats)\n' "$(( (k1 - k0) / ops ))"
printf 'agent CPU per operation       %s ns\n' "$(( (a1 - a0) / ops ))"
printf 'events written               %s\n' "$(wc -l < "$work/events.txt")"
