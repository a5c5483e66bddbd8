#!/usr/bin/env bash
# The long soak (root, Debian): kotel on the shipped pipeline.yaml for SOAK_MINUTES (30)
# under a steady loopback connection load (SOAK_CONN_RATE a second, 200), its OTLP
# exporter pointed at a real receiver (rotel) that is stopped and started on a schedule
# (SOAK_UP_SECONDS up, 90; SOAK_DOWN_SECONDS down, 60). Samples RSS, CPU and the
# exporter's sent/dropped/queue counters every 10 s into SOAK_DIR/soak.csv and fails when
# RSS passes SOAK_RSS_MAX_MIB (128) or grows across cycles by more than
# SOAK_RSS_GROWTH_MIB (16), or export does not resume within SOAK_RESUME_SECONDS (60) of
# a receiver start (scripts/soak/soak.py has the details). The short version of these
# faults runs in scripts/test.sh (tests/tests/reliability.rs).
#
# Installs what it needs (scripts/setup.sh, scripts/setup-receivers.sh), builds the agent
# (KOTEL_BIN overrides: e.g. target/release/kotel).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "soak: run as root" >&2; exit 1; }
bash scripts/setup.sh
bash scripts/setup-receivers.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if [[ -z ${KOTEL_BIN:-} ]]; then
  cargo build --quiet --bin kotel
  KOTEL_BIN=target/debug/kotel
fi
venv=${KOTEL_TEST_VENV:-/opt/kotel-test/venv}
out=${SOAK_DIR:-$(mktemp -d /tmp/kotel-soak.XXXXXX)}
exec "$venv/bin/python" scripts/soak/soak.py "$KOTEL_BIN" "$venv/bin/rotel-agent" pipeline.yaml "$out"
