#!/usr/bin/env bash
# Installs what kotel needs to build and test on a Debian machine (root), idempotently:
# Debian packages, the nightly toolchain's rust-src, and a bpf-linker built against the
# nightly rustc's own LLVM. A second run only checks and returns in about a second.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

log() { printf 'setup: %s\n' "$*" >&2; }

APT_PACKAGES=(protobuf-compiler bpftool iproute2 procps kmod)

install_apt_packages() {
  local missing
  mapfile -t missing < <(missing_apt_packages "${APT_PACKAGES[@]}")
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

install_nightly_rust_src() {
  if ! rustup toolchain list | grep -q '^nightly'; then
    log "installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal
  fi
  if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
    log "adding rust-src to the nightly toolchain"
    rustup component add rust-src --toolchain nightly
  fi
}

# bpf-linker must link against the same LLVM major version as the nightly rustc that
# compiles the kernel programs; the nightly toolchain ships that libLLVM, so point at it.
install_bpf_linker() {
  local llvm_major sysroot libllvm prefix
  llvm_major=$(rustc +nightly -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
  sysroot=$(rustc +nightly --print sysroot)
  libllvm=$(find "$sysroot/lib" -maxdepth 1 -name "libLLVM.so.${llvm_major}*" | head -n1)
  [[ -n "$libllvm" ]] || { log "no libLLVM.so.${llvm_major}* in $sysroot/lib"; exit 1; }
  prefix="${CARGO_HOME:-$HOME/.cargo}/kotel-llvm-${llvm_major}"
  mkdir -p "$prefix/lib"
  ln -sf "$libllvm" "$prefix/lib/libLLVM.so"
  ln -sf "$libllvm" "$prefix/lib/$(basename "$libllvm")"
  local stamp="$prefix/bpf-linker.installed"
  if command -v bpf-linker >/dev/null 2>&1 && [[ -f "$stamp" ]]; then
    return
  fi
  log "building bpf-linker against LLVM ${llvm_major} (about a minute)"
  LLVM_PREFIX="$prefix" cargo install --locked bpf-linker --no-default-features \
    --features "llvm-${llvm_major}" --force
  touch "$stamp"
}

# tracefs and bpffs are needed to attach tracepoints and inspect programs.
mount_kernel_filesystems() {
  if [[ ! -e /sys/kernel/tracing/events ]]; then
    mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || log "could not mount tracefs"
  fi
  if ! mountpoint -q /sys/fs/bpf; then
    mount -t bpf bpf /sys/fs/bpf 2>/dev/null || log "could not mount bpffs"
  fi
}

main() {
  [[ $(id -u) -eq 0 ]] || { log "run as root (apt-get and eBPF need it)"; exit 1; }
  install_apt_packages
  install_nightly_rust_src
  install_bpf_linker
  mount_kernel_filesystems
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
}

main "$@"
