#!/bin/sh
# shellcheck shell=sh
# A kernel-matrix step (busybox sh, in the guest): runs the agent, makes TCP connections
# and checks that its Prometheus endpoint counts them.
#   agent-metrics.sh KOTEL [RUN_ARGS...]
# starts `KOTEL run RUN_ARGS` in the background, waits for http://127.0.0.1:9464/metrics
# to answer, makes $CONNECTIONS (default 20) more connections to it (each scrape is one,
# made by wget and accepted by the agent), then waits until tcp_connection_opened_total
# counts at least that many inbound and as many outbound connections (summed over its
# series), prints those lines and stops the agent with SIGTERM (it must exit 0). Exits 1,
# with the agent's log, if the agent dies or the count is not reached within $WAIT_S
# seconds (default 90; the shipped pipeline aggregates every 15 s).
set -u
kotel=$1
shift
connections=${CONNECTIONS:-20}
pattern='^tcp_connection_opened_total'
url=http://127.0.0.1:9464/metrics
log=/tmp/kotel-run.log
metrics=/tmp/kotel-metrics.txt
started=$(date +%s)
deadline=$((started + ${WAIT_S:-90}))

# Prints the message $1 and the agent's log, and exits 1.
fail() {
  echo "agent-metrics: $1; the agent's log:"
  cat "$log"
  exit 1
}

# Fetches the metrics page into $metrics; fails when the agent does not answer. (busybox
# 1.35's `wget -T` crashes: `timeout` bounds it instead.)
scrape() {
  timeout 10 wget -q -O "$metrics" "$url" 2>/dev/null
}

# Fails with the message $1 when the agent died or the deadline passed; else waits 1 s.
wait_or_fail() {
  kill -0 "$agent" 2>/dev/null || fail "the agent exited: $1"
  [ "$(date +%s)" -lt "$deadline" ] || fail "$1 after ${WAIT_S:-90} s"
  sleep 1
}

"$kotel" run "$@" >"$log" 2>&1 &
agent=$!
trap 'kill "$agent" 2>/dev/null' EXIT

# The sum of the tcp_connection_opened_total series whose direction is $1.
opened() {
  grep -E "$pattern" "$metrics" | grep "direction=\"$1\"" |
    awk '{ sum += $NF } END { printf "%d\n", sum }'
}

until scrape; do wait_or_fail "no answer on $url"; done
echo "agent-metrics: $url answers after $(($(date +%s) - started)) s"
i=0
while [ "$i" -lt "$connections" ]; do
  scrape || fail "a scrape failed"
  i=$((i + 1))
done
until [ "$(opened inbound)" -ge "$connections" ] && [ "$(opened outbound)" -ge "$connections" ]; do
  wait_or_fail "tcp_connection_opened_total does not count the $connections connections (inbound $(opened inbound), outbound $(opened outbound))"
  scrape || fail "a scrape failed"
done
grep -E "$pattern" "$metrics"
echo "agent-metrics: $connections connections made; counted inbound $(opened inbound), outbound $(opened outbound) after $(($(date +%s) - started)) s"

kill -TERM "$agent"
wait "$agent"
code=$?
trap - EXIT
[ "$code" -eq 0 ] || fail "the agent exited with $code after SIGTERM"
