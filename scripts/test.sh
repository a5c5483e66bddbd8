#!/usr/bin/env bash
# Installs what is missing and runs every test: the unit tests (no privileges needed),
# then the tests that need root and the real kernel (tests/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

echo "== unit tests (cargo test: no root needed)"
cargo test --quiet

echo "== root tests (real kernel; tests/)"
cargo build --quiet --bin kotel
cargo test --quiet -p kotel-integration-tests -- --test-threads=1
