#!/usr/bin/env bash
# Prepares what scripts/kernel-matrix.sh needs (root, Debian), idempotently; a second run
# only checks and returns in about a second:
#  - installs qemu (TCG is enough), a static busybox for the guest's /init, cpio to pack
#    the initramfs, binutils (objcopy strips debug info from what goes into it) and kmod
#    (depmod/modprobe resolve the kernel modules a guest loads);
#  - for every kernel of scripts/matrix/kernels.txt, finds the newest Debian package that
#    matches (in the host's apt sources, or in the Debian suite the line names, e.g.
#    bullseye-security, whose lists are kept apart in $KOTEL_KERNEL_CACHE/apt/<suite>
#    so the host's sources stay as they are), downloads it WITHOUT installing it (`apt-get download` + `dpkg-deb -x`: no
#    hooks, no initramfs, no grub; the host is untouched) and keeps its kernel in
#    $KOTEL_KERNEL_CACHE/<label>/ (default /var/cache/kotel/kernels):
#      vmlinuz   the kernel qemu boots
#      config    its build configuration
#      release   its release (`uname -r`)
#      lib/modules/<release>/  its modules, with modules.dep (depmod -b <label dir>)
#      package   "<package> <version>": what was downloaded (kernel-matrix.sh prints it)
#    A kernel already there at the newest version is not downloaded again.
# `apt-get update` runs only when a package cannot be found or fetched.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

KERNELS_FILE=$(dirname "$0")/matrix/kernels.txt
CACHE=${KOTEL_KERNEL_CACHE:-/var/cache/kotel/kernels}
APT_PACKAGES=(qemu-system-x86 busybox-static cpio binutils kmod xz-utils zstd)

log() { printf 'setup-kernel-matrix: %s\n' "$*" >&2; }
done_steps=()
updated_suites=()

# Prints "<label> <glob> [<suite>]" for each kernel of kernels.txt (comments and blank
# lines dropped).
matrix_kernels() {
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$KERNELS_FILE"
}

# Prints, one per line, the apt options that make apt use Debian suite $1 alone, with
# its lists under $CACHE/apt/$1 (creating its sources list); nothing for "" (the host's
# own sources).
suite_options() {
  local suite=$1 dir archive=debian
  [[ -n $suite ]] || return 0
  dir=$CACHE/apt/$suite
  [[ $suite == *-security ]] && archive=debian-security
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  printf 'deb http://deb.debian.org/%s %s main\n' "$archive" "$suite" >"$dir/sources.list"
  printf '%s\n' -o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
}

# Runs `apt-get update` for suite $1 ("": the host's sources) once per run, when its
# lists are missing or look stale.
apt_update_once() {
  local suite=$1 options
  [[ " ${updated_suites[*]} " == *" [$suite] "* ]] && return 0
  mapfile -t options < <(suite_options "$suite")
  log "refreshing the package lists${suite:+ of $suite}"
  apt-get "${options[@]}" update -qq
  updated_suites+=("[$suite]")
}

# Prints "<package> <version>" for every package of suite $1 ("": the host's sources)
# whose name matches one of the globs that follow and that apt can install (one apt-cache
# call: each parses the lists, ~0.5 s).
available_packages() {
  local suite=$1 options
  shift
  mapfile -t options < <(suite_options "$suite")
  apt-cache "${options[@]}" policy "$@" 2>/dev/null | awk '
    /^[^ ].*:$/ { name = substr($0, 1, length($0) - 1) }
    $1 == "Candidate:" && $2 != "(none)" { print name, $2 }'
}

# Prints the lines of stdin ("<package> <version>") whose package name matches the glob
# $1, newest first.
matching_newest_first() {
  local glob=$1 name version
  while read -r name version; do
    # shellcheck disable=SC2053 # $glob is a pattern on purpose
    [[ $name == $glob ]] && printf '%s %s\n' "$name" "$version"
  done < <(sort -rV)
}

# Prints "<package> <version>" for every package of suite $1 ("": the host's sources)
# matching the glob $2, newest first, refreshing the suite's lists once when none does.
candidates() {
  local suite=$1 glob=$2 found
  found=$(available_packages "$suite" "$glob" | matching_newest_first "$glob")
  if [[ -z $found ]]; then
    apt_update_once "$suite"
    found=$(available_packages "$suite" "$glob" | matching_newest_first "$glob")
  fi
  [[ -n $found ]] || { log "no Debian package matches $glob${suite:+ in $suite}"; return 1; }
  printf '%s\n' "$found"
}

# Downloads package $1 at version $2 of suite $4 ("": the host's sources) into the
# directory $3; a failure (a version the mirror no longer serves) refreshes the lists
# once and retries.
download_deb() {
  local pkg=$1 version=$2 dir=$3 suite=${4:-} options
  mapfile -t options < <(suite_options "$suite")
  # Downloading as root into a directory _apt cannot write makes apt warn; let it write.
  chown _apt "$dir" 2>/dev/null || true
  (cd "$dir" && apt-get "${options[@]}" download -qq "$pkg=$version" 2>/dev/null) && return 0
  apt_update_once "$suite"
  (cd "$dir" && apt-get "${options[@]}" download -qq "$pkg=$version" 2>/dev/null)
}

# Unpacks the kernel package downloaded into $2 into $CACHE/<label $1>, recording it as
# package $3 at version $4.
unpack_kernel() {
  local label=$1 work=$2 pkg=$3 version=$4 dest=$CACHE/$1 release
  dpkg-deb -x "$work"/*.deb "$work/root"
  rm -rf "$dest.new"
  mkdir -p "$dest.new"
  cp "$work"/root/boot/vmlinuz-* "$dest.new/vmlinuz"
  cp "$work"/root/boot/config-* "$dest.new/config"
  release=$(basename "$work"/root/lib/modules/*)
  printf '%s\n' "$release" >"$dest.new/release"
  mkdir -p "$dest.new/lib/modules"
  mv "$work/root/lib/modules/$release" "$dest.new/lib/modules/"
  depmod -b "$dest.new" "$release"
  printf '%s %s\n' "$pkg" "$version" >"$dest.new/package"
  rm -rf "$dest"
  mv "$dest.new" "$dest"
}

# Makes $CACHE/<label $1> hold the newest kernel of suite $2 ("": the host's sources)
# matching the glob $3 that the mirror serves. A package the lists name but the mirror
# does not serve (a mirror that lags its lists) is remembered in $CACHE/unavailable and
# not tried again; the next older one is taken instead.
fetch_kernel() {
  local label=$1 suite=$2 glob=$3 dest=$CACHE/$1 work=$WORK/$1 list pkg version
  list=$(candidates "$suite" "$glob")
  while read -r pkg version; do
    if [[ -f $dest/release && $(cat "$dest/package" 2>/dev/null) == "$pkg $version" ]]; then
      return 0
    fi
    grep -qxF "$pkg $version" "$CACHE/unavailable" 2>/dev/null && continue
    log "downloading $pkg $version (kernel $label)"
    rm -rf "$work"
    mkdir -p "$work"
    if download_deb "$pkg" "$version" "$work" "$suite"; then
      unpack_kernel "$label" "$work" "$pkg" "$version"
      done_steps+=("fetched $pkg $version")
      return 0
    fi
    log "the mirror does not serve $pkg $version; trying the next older one"
    printf '%s %s\n' "$pkg" "$version" >>"$CACHE/unavailable"
  done <<<"$list"
  log "no package matching $glob${suite:+ in $suite} can be downloaded"
  return 1
}

main() {
  [[ $(id -u) -eq 0 ]] || { log "run as root"; exit 1; }
  install_missing_apt_packages "${APT_PACKAGES[@]}"
  mkdir -p "$CACHE"
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  local line label glob suite summary
  while read -r line; do
    read -r label glob suite <<<"$line"
    fetch_kernel "$label" "${suite:-}" "$glob"
  done < <(matrix_kernels)
  if ((${#done_steps[@]})); then
    summary=$(printf '%s; ' "${done_steps[@]}")
    log "done: ${summary%; }"
  else
    log "ready, nothing to do: kernels in $CACHE"
  fi
}

main "$@"
