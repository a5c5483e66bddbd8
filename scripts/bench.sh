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
#   scale  RSS of kotel with SCALE_CONTAINERS in the CRI cache (a fake runtime,
#          tests/src/bin/kotel-bench-cri.rs, with real cgroup dirs) and SCALE_CONNECTIONS
#          open connections, BPF map memory, owner-map and ring-buffer counters
#          (scripts/bench/scale.py)
#   rate   cost per connection at RATES connections/s, RATE_SECONDS each
#          (scripts/bench/rate.py)
#   loss   the rate at which the tcp ring buffer starts dropping with default sizes, and
#          made = seen + lost per run, exactly (scripts/bench/loss.py; exits 1 if not)
#   l7     cost per HTTP request of the l7 source (RED metrics only, and with every span
#          exported over OTLP to a rotel that discards it) and per read/write on a
#          descriptor it does not follow, beside an empty program on the same
#          tracepoints, the floor (scripts/bench/l7.py; L7_REQUESTS (50000),
#          L7_CONNECTIONS (16), L7_SYSCALLS (500000); needs scripts/setup-receivers.sh's rotel)
#   all    the four above
#
# Environment: ROUNDS (5), CONNECTIONS (20000), THREADS (4), REQUESTS (50000),
# RR_CONNECTIONS (16), KOTEL_BIN (default: target/release/kotel, built here);
# scale/rate/loss: EXTRA_ROUNDS (3), SCALE_CONTAINERS (5000), SCALE_CONNECTIONS (100000),
# SCALE_HOLD (20 s), RATES ("1000 10000 100000"), RATE_SECONDS (10),
# LOSS_RATES ("2000 5000 10000 15000 20000 max"), LOSS_SECONDS (5).
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
case $what in
  cost | scale | rate | loss | l7 | all) ;;
  *) log "unknown benchmark '$what' (known: cost, scale, rate, loss, l7, all)"; exit 2 ;;
esac
EXTRA_ROUNDS=${EXTRA_ROUNDS:-3}

bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
done_steps=()
install_missing_apt_packages bpftrace gcc libc6-dev
if [[ -z ${KOTEL_BIN:-} ]]; then
  log "building target/release/kotel"
  cargo build --release --quiet --bin kotel
  KOTEL_BIN=$PWD/target/release/kotel
fi
if [[ $what == scale || $what == all ]]; then
  cargo build --release --quiet -p kotel-integration-tests --bin kotel-bench-cri
fi
if [[ $what == l7 ]]; then
  bash scripts/setup-receivers.sh
  cargo build --release --quiet -p kotel-integration-tests --bin kotel-test-http
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
if [[ $what == cost || $what == all ]]; then
  BENCH_STORM=$work/storm python3 scripts/bench/cost.py "$KOTEL_BIN" "$NETNS" "$ROUNDS" \
    "storm:$CONNECTIONS:$THREADS" "rr:$REQUESTS:$RR_CONNECTIONS"
fi
[[ $what == cost ]] && exit 0
if [[ $what == l7 ]]; then
  python3 scripts/bench/l7.py "$KOTEL_BIN" "$PWD/target/release/kotel-test-http" \
    "${KOTEL_TEST_VENV:-/opt/kotel-test/venv}/bin/rotel-agent" "$NETNS" "$ROUNDS"
  exit 0
fi
# The others make up to a million connections per run: every local port, in this netns only.
ip netns exec "$NETNS" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
status=0
if [[ $what == scale || $what == all ]]; then
  python3 scripts/bench/scale.py "$KOTEL_BIN" "$PWD/target/release/kotel-bench-cri" "$work/storm" "$NETNS" \
    "$EXTRA_ROUNDS" "${SCALE_CONTAINERS:-5000}" "${SCALE_CONNECTIONS:-100000}" "${SCALE_HOLD:-20}"
fi
if [[ $what == rate || $what == all ]]; then
  # shellcheck disable=SC2086 # RATES is a list
  python3 scripts/bench/rate.py "$KOTEL_BIN" "$work/storm" "$NETNS" "$EXTRA_ROUNDS" "${RATE_SECONDS:-10}" \
    ${RATES:-1000 10000 100000}
fi
if [[ $what == loss || $what == all ]]; then
  # shellcheck disable=SC2086 # LOSS_RATES is a list
  python3 scripts/bench/loss.py "$KOTEL_BIN" "$work/storm" "$NETNS" "$EXTRA_ROUNDS" "${LOSS_SECONDS:-5}" \
    ${LOSS_RATES:-2000 5000 10000 15000 20000 max} || status=$?
fi
exit "$status"
