#!/usr/bin/env bash
# Installs what is missing and runs every test: the unit tests (no privileges needed),
# then the tests that need root, the real kernel or a real containerd (tests/), then the
# kernel matrix (other kernels under qemu). Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The tests' container runtime (containerd, runc, test images); the agent needs none.
bash scripts/setup-containerd.sh
# The tests' OTLP receiver (rotel) and Prometheus.
bash scripts/setup-receivers.sh
# The deploy checks' helm, kubernetes-validate and yamllint; the dashboards' schema check
# (Grafana's TypeScript types, promtool).
bash scripts/setup-deploy-tools.sh
bash scripts/setup-dashboard-tools.sh
# The fuzz targets' nightly toolchain and cargo-fuzz (tests/tests/fuzz_bounded.rs runs them).
bash scripts/setup-fuzz.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Every step runs even when an earlier one fails (and every test binary of a step:
# --no-fail-fast); the closing line counts them all and the exit status says if any failed.
status=0
step() {
  "$@" 2>&1 | tee -a "$log" || status=1
}

echo "== unit tests (cargo test: no root needed)"
step cargo test --no-fail-fast

echo "== root tests (real kernel, real containerd; tests/)"
step cargo build --quiet --bin kotel
# The CRI fault suite needs no root and no shared kernel state: its tests run in parallel.
step cargo test --no-fail-fast -p kotel-integration-tests --test k8s_cri_faults
step cargo test --no-fail-fast -p kotel-integration-tests -- --test-threads=1 --skip k8s_cri_faults::

echo "== kernel matrix (the kernels of scripts/matrix/kernels.txt under qemu: doctor, the kernel root tests, the shipped pipeline)"
# Only its per-step lines go into the counted log: the console of a failed step it prints
# holds the guest's own test lines, which are not the host's.
matrix_log=$(mktemp)
bash scripts/kernel-matrix.sh 2>&1 | tee "$matrix_log" || status=1
grep '^kernel-matrix: ' "$matrix_log" >>"$log" || true
rm -f "$matrix_log"

read -r passed failed < <(awk '/^test result: /{for(i=1;i<=NF;i++){if($i~/^passed;/)p+=$(i-1);if($i~/^failed;/)f+=$(i-1)}}END{print p+0, f+0}' "$log")
skipped=$(grep -c '^SKIPPED ' "$log" || true)
# Cargo names every test binary that failed (a crashed one prints no result line) as it
# happens: "error: test failed, to rerun pass `...`".
binaries=$(grep -c '^error: test failed' "$log" || true)
# The matrix prints "kernel-matrix: <kernel>: <step> exit=<code> seconds=<s>" per step.
matrix_passed=$(grep -cE '^kernel-matrix: [^ ]+: [^ ]+ exit=0 ' "$log" || true)
matrix_failed=$(grep -E '^kernel-matrix: [^ ]+: [^ ]+ exit=' "$log" | grep -vc ' exit=0 ' || true)
echo "total: ${passed} passed, ${failed} failed, ${skipped} skipped; test binaries failed: ${binaries};" \
  "kernel matrix steps: ${matrix_passed} passed, ${matrix_failed} failed"
exit "$status"
