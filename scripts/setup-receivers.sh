#!/usr/bin/env bash
# Installs the real telemetry receivers that the export tests run against (root, Debian),
# idempotently; a second run only checks and returns in about a second:
#  - a Python venv at /opt/kotel-test/venv (python3-venv from apt when missing) holding
#    `rotel` (its wheel ships the `rotel-agent` binary, an OTLP gRPC/HTTP receiver that
#    prints what it receives) and the official OpenTelemetry Python SDK with its OTLP
#    exporters (`opentelemetry-sdk`, `opentelemetry-exporter-otlp`), a real OTLP client;
#  - Debian's `socat` and `openssl` (a mutual-TLS terminator and its test certificates);
#  - Debian's `prometheus` (2.42), with the packaged service stopped and disabled: tests
#    run their own instance on a free port with their own config and storage directory;
#  - Debian's `nginx-light` and `curl`: a real HTTP server and client the `l7` source is
#    tested against (the packaged service is not started: tests run their own nginx).
# It starts nothing: tests/src/rotel.rs and tests/src/prometheus.rs do, per test.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

VENV=${KOTEL_TEST_VENV:-/opt/kotel-test/venv}
# Pinned: tests/src/rotel/debug_output.rs parses this rotel's print-out format, and the
# tests' expectations of what the SDK sends were checked with this SDK.
PIP_PACKAGES=(rotel==0.0.1a15 opentelemetry-sdk==1.45.2 opentelemetry-exporter-otlp==1.45.2)
APT_PACKAGES=(python3-venv prometheus socat openssl nginx-light curl)
PROMETHEUS_DEFAULT_PORT=9090

log() { printf 'setup-receivers: %s\n' "$*" >&2; }
done_steps=()

[[ $(id -u) -eq 0 ]] || { log "run as root"; exit 1; }

install_apt_packages() {
  local missing
  mapfile -t missing < <(missing_apt_packages "${APT_PACKAGES[@]}")
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  # The package's postinst would start the service at once: forbid that for this install.
  local policy=/usr/sbin/policy-rc.d had_policy=0
  [[ -e $policy ]] && had_policy=1
  if ((!had_policy)); then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_install "${missing[@]}"
  if ((!had_policy)); then
    rm -f "$policy"
    trap - EXIT
  fi
  done_steps+=("installed ${missing[*]}")
}

# The packaged Prometheus listens on :9090 with the system-wide config. Disable the unit
# (or init script) and end whatever process of that binary still listens there, found by
# the listening socket itself (never by process name).
stop_packaged_prometheus() {
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    if systemctl is-enabled --quiet prometheus.service 2>/dev/null ||
      systemctl is-active --quiet prometheus.service 2>/dev/null; then
      systemctl disable --now prometheus.service >/dev/null 2>&1 || true
      done_steps+=("disabled prometheus.service")
    fi
  elif [[ -x /etc/init.d/prometheus ]]; then
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
  fi
  local pids pid stopped=()
  pids=$(ss -tlpnH "sport = :$PROMETHEUS_DEFAULT_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true)
  for pid in $pids; do
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == /usr/bin/prometheus ]] || continue
    kill -TERM "$pid" 2>/dev/null || true
    stopped+=("$pid")
  done
  if ((${#stopped[@]})); then
    for _ in $(seq 50); do
      ss -tlnH "sport = :$PROMETHEUS_DEFAULT_PORT" | grep -q . || break
      sleep 0.1
    done
    done_steps+=("stopped the packaged prometheus (pid ${stopped[*]})")
  fi
}

# The wheel carries the binary as package data (site-packages/rotel/rotel-agent), not as
# a script: link it as $VENV/bin/rotel-agent, the path the tests look for.
link_rotel_agent() {
  local binary
  binary=$("$VENV/bin/python" -c 'import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))' 2>/dev/null) || return 0
  [[ -x $binary ]] || return 0
  [[ $(readlink "$VENV/bin/rotel-agent" 2>/dev/null) == "$binary" ]] && return 0
  ln -sfn "$binary" "$VENV/bin/rotel-agent"
  done_steps+=("linked $VENV/bin/rotel-agent")
}

# Packages are checked by importing them / finding the binary, so that a re-run does not
# ask PyPI anything.
setup_venv() {
  ensure_venv "$VENV"
  link_rotel_agent
  if [[ -x $VENV/bin/rotel-agent ]] && "$VENV/bin/python" - "${PIP_PACKAGES[@]}" 2>/dev/null <<'EOF'; then
import sys
from importlib.metadata import version
import opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http
sys.exit(any(version(name) != pinned for name, pinned in (p.split("==") for p in sys.argv[1:])))
EOF
    return 0
  fi
  log "installing into $VENV: ${PIP_PACKAGES[*]}"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
  link_rotel_agent
  [[ -x $VENV/bin/rotel-agent ]] || { log "the rotel wheel shipped no rotel/rotel-agent binary"; exit 1; }
  done_steps+=("installed ${PIP_PACKAGES[*]}")
}

install_apt_packages
stop_packaged_prometheus
setup_venv
rotel_version=$("$VENV/bin/rotel-agent" --version 2>/dev/null | head -n1 || true)
prom_version=$(/usr/bin/prometheus --version 2>&1 | head -n1 | awk '{print $3}')
if ((${#done_steps[@]})); then
  summary=$(printf '%s; ' "${done_steps[@]}")
  log "${summary%; } (${rotel_version:-rotel-agent}, prometheus $prom_version)"
else
  log "ready, nothing to do: $VENV/bin/rotel-agent (${rotel_version:-?}), /usr/bin/prometheus $prom_version"
fi
