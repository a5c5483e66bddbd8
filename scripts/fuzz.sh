#!/usr/bin/env bash
# Runs kotel's fuzz targets (fuzz/: config parsing, ring-buffer decoding, replay lines) for
# a bounded time each, installing what is missing first (scripts/setup-fuzz.sh).
#
# Usage: scripts/fuzz.sh [seconds-per-target] [target...]
#   seconds: the first argument, else $FUZZ_SECONDS, else 20. Every target when none named.
#   e.g. `FUZZ_SECONDS=600 scripts/fuzz.sh` for a longer run on demand.
#
# Contract: prints one line per target, `fuzz: <target>: <N> runs in <S> s (<R>/s), no
# crash` or `fuzz: <target>: CRASH, input: <path>` (the input that failed, under
# fuzz/artifacts/<target>/; replay it with `cargo +nightly fuzz run <target> <path>`), and
# exits non-zero when any target crashed, hung or leaked. Seeds are read from
# fuzz/corpus/<target>/ (and, for config_parse, the repository's pipeline files); what the
# fuzzer finds goes to fuzz/target/corpus/<target>/, never into the committed seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-${FUZZ_SECONDS:-20}}
(($# > 0)) && shift
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: seconds must be a positive number, not '$seconds'" >&2; exit 2; }

bash scripts/setup-fuzz.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# The targets load no kernel program: skip building them (and keep the sanitizer flags
# away from the BPF build).
export AYA_BUILD_SKIP=1

targets=("$@")
build=("${targets[@]}")
((${#targets[@]})) || mapfile -t targets < <(cargo +nightly fuzz list)

mkdir -p fuzz/target/logs
echo "fuzz: building ${targets[*]} (the first build takes minutes)" >&2
# One target named: build just it; otherwise every target at once.
((${#build[@]} == 1)) || build=()
if ! cargo +nightly fuzz build "${build[@]}" >fuzz/target/logs/build.log 2>&1; then
  tail -n 40 fuzz/target/logs/build.log >&2
  echo "fuzz: the fuzz targets do not build (log: fuzz/target/logs/build.log)"
  exit 1
fi

# The inputs a target starts from: its committed seeds, plus the repository's own pipeline
# files for config_parse. New inputs are written only to the first (work) directory.
corpus_dirs() {
  local target=$1 work=fuzz/target/corpus/$1
  mkdir -p "$work"
  if [[ "$target" == config_parse ]]; then
    cp pipeline.yaml "$work/seed-pipeline.yaml"
    printf '%s\n' "$work" "fuzz/corpus/$target" collector/testdata/config
  else
    printf '%s\n' "$work" "fuzz/corpus/$target"
  fi
}

failed=0
for target in "${targets[@]}"; do
  log=fuzz/target/logs/$target.log
  mapfile -t dirs < <(corpus_dirs "$target")
  if cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    >"$log" 2>&1; then
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 \2/p' "$log" | tail -n 1)
    read -r n s <<<"${runs:-0 0}"
    echo "fuzz: $target: $n runs in $s s ($((n / (s > 0 ? s : 1)))/s), no crash"
  else
    failed=$((failed + 1))
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    grep -m 1 -A 12 -E '^(==[0-9]+==ERROR|thread .* panicked)' "$log" >&2 || tail -n 20 "$log" >&2
    echo "fuzz: $target: CRASH, input: ${input:-none written, see $log} (log: $log)"
  fi
done
((failed == 0)) || { echo "fuzz: $failed target(s) failed"; exit 1; }
