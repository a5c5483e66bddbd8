#!/usr/bin/env bash
# Installs what is missing, builds kotel and runs it on the default pipeline.yaml (or the
# file given as the first argument). Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
cargo build --release --quiet
exec target/release/kotel run --config "${1:-pipeline.yaml}"
