#!/usr/bin/env bash
# Benchmarks that answer "what does kotel cost" with figures anyone can reproduce (root,
# Debian). Installs what is missing (scripts/setup.sh, Debian's bpftrace and gcc), builds
# the release agent, then:
#
#   cost   (default) cost per connection and per request of kotel on the shipped
#          pipeline.yaml, side by side with bpftrace running an aggregate-only script and
#          a per-event script (scripts/bench/peer-*.bt), on a loopback connect/close storm
#          and a kept-alive request/response loop inside a network namespace made here:
#          kernel ns of each tool's own BPF programs (bpf stats) + the tool's own CPU,
#          divided by the operations; wall-clock slowdown of the load as well.
#
# Environment: ROUNDS (5), CONNECTIONS (20000), THREADS (4), REQUESTS (50000),
# RR_CONNECTIONS (16), KOTEL_BIN (default: target/release/kotel, built here).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/apt.sh
source scripts/lib/apt.sh

what=${1:-cost}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-20000}
THREADS=${THREADS:-4}
REQUESTS=${REQUESTS:-50000}
RR_CONNECTIONS=${RR_CONNECTIONS:-16}
NETNS=kotel-bench-$$

log() { printf 'bench: %s\n' "$*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "run as root (loads eBPF programs)"; exit 1; }
[[ $what == cost ]] || { log "unknown benchmark '$what' (known: cost)"; exit 2; }

bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
done_steps=()
install_missing_apt_packages bpftrace gcc libc6-dev
if [[ -z ${KOTEL_BIN:-} ]]; then
  log "building target/release/kotel"
  cargo build --release --quiet --bin kotel
  KOTEL_BIN=$PWD/target/release/kotel
fi

work=$(mktemp -d)
old_stats=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
  sysctl -qw kernel.bpf_stats_enabled="$old_stats"
  ip netns del "$NETNS" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
gcc -O2 -pthread -o "$work/storm" scripts/bench/storm.c
ip netns add "$NETNS"
ip netns exec "$NETNS" ip link set lo up
sysctl -qw kernel.bpf_stats_enabled=1

log "kernel $(uname -r), $(nproc) CPUs, bpftrace $(bpftrace --version | awk '{print $2}'), kotel $("$KOTEL_BIN" --version | awk '{print $2}')"
BENCH_STORM=$work/storm python3 scripts/bench/cost.py "$KOTEL_BIN" "$NETNS" "$ROUNDS" \
  "storm:$CONNECTIONS:$THREADS" "rr:$REQUESTS:$RR_CONNECTIONS"
