#!/usr/bin/env bash
# Installs what the fuzz targets (fuzz/, run by scripts/fuzz.sh) need, idempotently: the
# nightly toolchain (scripts/setup.sh installs the same one for the eBPF build), a C++
# compiler for libFuzzer, and cargo-fuzz at the pinned version from crates.io. A second
# run only checks and returns in about a second.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

CARGO_FUZZ_VERSION=0.13.2

log() { printf 'setup-fuzz: %s\n' "$*" >&2; }
done_steps=()

install_nightly() {
  rustup toolchain list | grep -q '^nightly' && return
  log "installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
  done_steps+=("installed nightly")
}

install_cargo_fuzz() {
  local have
  have=$(cargo fuzz --version 2>/dev/null | awk '{print $2}' || true)
  [[ "$have" == "$CARGO_FUZZ_VERSION" ]] && return
  log "installing cargo-fuzz ${CARGO_FUZZ_VERSION} (was: ${have:-none}; about two minutes)"
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" --force
  done_steps+=("installed cargo-fuzz ${CARGO_FUZZ_VERSION}")
}

main() {
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  if [[ $(id -u) -eq 0 ]]; then
    install_missing_apt_packages g++
  fi
  install_nightly
  install_cargo_fuzz
  ((${#done_steps[@]} == 0)) || log "done: ${done_steps[*]}"
}

main "$@"
