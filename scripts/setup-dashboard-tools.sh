#!/usr/bin/env bash
# Installs what tests/tests/dashboards.rs needs to check the Grafana dashboards (root,
# Debian), idempotently; a second run only compares two files and returns at once:
#  - python3 (Debian's, when there is none): runs dashboards/generate.py;
#  - Node.js and npm (Debian's `nodejs` and `npm`, when missing);
#  - the npm packages pinned in dashboards/tools/package.json and package-lock.json,
#    installed with `npm ci` into /opt/kotel-test/dashboard-tools (KOTEL_DASHBOARD_TOOLS):
#    `typescript` (the compiler that checks the JSON), `@grafana/schema` (Grafana's own
#    dashboard, panel and Loki query types) and `@grafana/grafana-foundation-sdk` (the
#    Prometheus query type). Nothing runs at install time (--ignore-scripts);
#  - promtool, Prometheus' rule checker (parses every PromQL query of the dashboards):
#    when the system has none (scripts/setup-receivers.sh installs Debian's prometheus),
#    the binary is extracted from Debian's `prometheus` package into $TOOLS/bin, without
#    installing the package (which would start a server).
# It starts nothing.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

REPO=$(cd "$(dirname "$0")/.." && pwd)
PINS=$REPO/dashboards/tools
TOOLS=${KOTEL_DASHBOARD_TOOLS:-/opt/kotel-test/dashboard-tools}

log() { printf 'setup-dashboard-tools: %s\n' "$*" >&2; }
done_steps=()

[[ $(id -u) -eq 0 ]] || { log "run as root"; exit 1; }

install_commands() {
  local missing=()
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  apt_install "${missing[@]}"
  done_steps+=("installed ${missing[*]}")
}

# True when $TOOLS holds exactly the pinned lock file and every pinned package at its
# pinned version.
tools_current() {
  cmp -s "$PINS/package.json" "$TOOLS/package.json" || return 1
  cmp -s "$PINS/package-lock.json" "$TOOLS/package-lock.json" || return 1
  [[ -f $TOOLS/node_modules/.package-lock.json ]] || return 1
  (cd "$TOOLS" && node -e '
    const pins = require("./package.json").devDependencies;
    for (const [name, version] of Object.entries(pins)) {
      if (require(`./node_modules/${name}/package.json`).version !== version) process.exit(1);
    }' 2>/dev/null)
}

install_tools() {
  tools_current && return 0
  log "installing into $TOOLS: $(cd "$PINS" && node -e 'const p = require("./package.json").devDependencies; console.log(Object.entries(p).map(([n, v]) => `${n}@${v}`).join(" "))')"
  mkdir -p "$TOOLS"
  cp "$PINS/package.json" "$PINS/package-lock.json" "$TOOLS/"
  (cd "$TOOLS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  tools_current || { log "npm ci did not leave the pinned versions in $TOOLS"; exit 1; }
  done_steps+=("installed the dashboard type packages")
}

install_promtool() {
  command -v promtool >/dev/null 2>&1 && return 0
  [[ -x $TOOLS/bin/promtool ]] && return 0
  log "extracting promtool from Debian's prometheus package into $TOOLS/bin"
  local work
  work=$(mktemp -d)
  if ! (cd "$work" && apt-get download prometheus >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$work" && apt-get download prometheus >/dev/null 2>&1)
  fi
  dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
  mkdir -p "$TOOLS/bin"
  install -m 0755 "$work/root/usr/bin/promtool" "$TOOLS/bin/promtool"
  rm -rf "$work"
  done_steps+=("extracted promtool")
}

install_commands
install_tools
install_promtool
tsc_version=$(node "$TOOLS/node_modules/typescript/bin/tsc" --version 2>/dev/null || echo "tsc ?")
if ((${#done_steps[@]})); then
  summary=$(printf '%s; ' "${done_steps[@]}")
  log "${summary%; } ($tsc_version, node $(node --version))"
else
  log "ready, nothing to do: $TOOLS ($tsc_version, node $(node --version))"
fi
