#!/usr/bin/env bash
# Runs kotel's steps (the agent, integration-test binaries, shell checks) on other kernels
# than the host's: each kernel of scripts/matrix/kernels.txt boots under qemu (TCG, no KVM
# needed) from a busybox initramfs that carries the steps' host executables, at the same
# absolute paths, with every library they link. The guest's /init is
# scripts/matrix/init.sh (mounts, lo, hostname, then the steps in order).
#
#   scripts/kernel-matrix.sh [OPTIONS] [LABEL...]      (default: every kernel)
#     --steps FILE     the steps to run (default scripts/matrix/steps.sh, see below)
#     --cgroup LAYOUT  unified (cgroup2 at /sys/fs/cgroup, the default) or hybrid
#                      (tmpfs at /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified)
#     --smp N          guest CPUs (default 2)
#     --mem MIB        guest memory (default: enough for the initramfs plus 512 MiB)
#     --jobs N         kernels booted at once (default: the host's CPUs; each guest runs
#                      on one host thread, whatever --smp says)
#     --verbose        stream the guest console while it runs
#
# As root it first runs scripts/setup-kernel-matrix.sh (qemu, busybox, the kernels, in
# $KOTEL_KERNEL_CACHE, default /var/cache/kotel/kernels). In $KOTEL_MATRIX_OUT (default
# target/kernel-matrix) it writes, per kernel, <label>.log (the whole console) and
# <label>.results ("<label> <step> <exit> <seconds>" lines); then it prints a summary
# table (kernel, package, boot time, each step's exit code and time) and the output of
# the steps that failed, and exits non-zero if any step failed or a guest did not finish.
#
# A steps file is bash, sourced by this script, that declares the steps with:
#   step NAME [--cwd DIR] [--timeout S] [VAR=VALUE...] COMMAND [ARG...]
#       runs COMMAND in the guest (from DIR, default /; killed after S s, default 600).
#       An absolute COMMAND, and every ARG naming a file of the repository by its
#       absolute path (a script, a config), is copied into the guest at the same path
#       (an ELF with its libraries); a bare COMMAND runs from the guest's PATH (host
#       tools copied there, else busybox applets). Other files need `copy`.
#   copy PATH...          copies host files or directories into the guest, same paths.
#   guest_env VAR=VALUE   sets VAR for every step.
#   guest_modules NAME... kernel modules (veth, sch_tbf, ...) every guest loads at boot,
#                         with their dependencies, where its kernel has them as modules.
#   cargo_executable KIND NAME CARGO_ARGS...
#       runs `cargo CARGO_ARGS --message-format=json-render-diagnostics` at the
#       repository root and prints the executable of the artifact NAME of kind KIND
#       (bin, test), e.g. the hashed name of an integration-test binary:
#       cargo_executable test tcp_kernel test --no-run -p kotel-integration-tests --test tcp_kernel
# and may use ROOT (the repository root) and MATRIX (scripts/matrix).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MATRIX=$ROOT/scripts/matrix
CACHE=${KOTEL_KERNEL_CACHE:-/var/cache/kotel/kernels}
OUT=${KOTEL_MATRIX_OUT:-$ROOT/target/kernel-matrix}
BUSYBOX=/bin/busybox
GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
DEFAULT_STEP_TIMEOUT=600
# Time allowed for qemu to start and the kernel to reach /init, on top of the steps'.
BOOT_ALLOWANCE=120

steps_file=$MATRIX/steps.sh
cgroup_layout=unified
smp=2
mem=
jobs=
verbose=false
labels=()

log() { printf 'kernel-matrix: %s\n' "$*" >&2; }
die() { log "$*"; exit 2; }

# --- the steps API (used by steps files) ----------------------------------------------

step_names=()
step_timeouts=()
step_heads=()
step_commands=()
step_tails=()
guest_env_lines=()
copies=()
guest_dirs=()
modules=()

# Single-quotes $1 for a POSIX shell.
shell_quote() {
  printf "'%s'" "${1//\'/\'\\\'\'}"
}

# step NAME [--cwd DIR] [--timeout S] [VAR=VALUE...] COMMAND [ARG...] (see the header).
step() {
  local name=$1 cwd=/ limit=$DEFAULT_STEP_TIMEOUT head arg tail=
  shift
  [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "step name '$name': letters, digits, _ . - only"
  [[ $name != boot && $name != total ]] || die "step name '$name' is reserved"
  [[ " ${step_names[*]} " != *" $name "* ]] || die "step name '$name' is used twice"
  while (($#)); do
    case $1 in
      --cwd) cwd=$2; shift 2 ;;
      --timeout) limit=$2; shift 2 ;;
      *) break ;;
    esac
  done
  (($#)) || die "step $name: no command"
  head="cd $(shell_quote "$cwd") || exit 125"$'\n'"exec"
  while (($#)) && [[ $1 == [A-Za-z_]*=* ]]; do
    [[ $head == *exec ]] && head+=" env"
    head+=" $(shell_quote "$1")"
    shift
  done
  (($#)) || die "step $name: no command"
  [[ $1 == /* ]] && copies+=("$1")
  for arg in "${@:2}"; do
    tail+=" $(shell_quote "$arg")"
    # Only the repository's files: `ls /bin/sh` must not replace busybox's sh by dash.
    [[ $arg == "$ROOT"/* && -f $arg ]] && copies+=("$arg")
  done
  step_names+=("$name")
  step_timeouts+=("$limit")
  # The step's script is "$head <command> $tail": the command's guest path is settled
  # once the guest's files are known (stage_steps).
  step_heads+=("$head")
  step_commands+=("$1")
  step_tails+=("$tail")
  guest_dirs+=("$cwd")
}

# copy PATH...: copies host files or directories into the guest at the same paths.
copy() {
  copies+=("$@")
}

# guest_env VAR=VALUE: sets VAR for every step.
guest_env() {
  [[ $1 == [A-Za-z_]*=* ]] || die "guest_env $1: expected VAR=VALUE"
  guest_env_lines+=("${1%%=*}=$(shell_quote "${1#*=}")")
}

# guest_modules NAME...: kernel modules every guest loads at boot.
guest_modules() {
  modules+=("$@")
}

# cargo_executable KIND NAME CARGO_ARGS...: builds with cargo and prints the executable of
# the artifact NAME of kind KIND (see the header). Cargo's messages go to $OUT/cargo.log,
# shown when the build fails.
cargo_executable() {
  local kind=$1 name=$2 json exe
  shift 2
  if ! json=$(cd "$ROOT" && cargo "$@" --message-format=json-render-diagnostics 2>>"$OUT/cargo.log"); then
    tail -n 40 "$OUT/cargo.log" >&2
    die "cargo $* failed (all its output: $OUT/cargo.log)"
  fi
  exe=$(printf '%s\n' "$json" |
    grep '"reason":"compiler-artifact"' |
    grep -F "\"kind\":[\"$kind\"]" |
    grep -F "\"name\":\"$name\"" |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
  [[ -n $exe && -x $exe ]] || die "cargo $* built no $kind executable named $name"
  printf '%s\n' "$exe"
}

# --- the initramfs ----------------------------------------------------------------------

declare -A staged=()

# True when $1 is an ELF file.
is_elf() {
  [[ $(head -c4 "$1" 2>/dev/null) == $'\x7fELF' ]]
}

# Prints the libraries (and the dynamic loader) that `ldd` names for the ELF $1.
elf_libraries() {
  ldd "$1" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' || true
}

# Copies the host path $1 into the staging tree $stage at the same path: a directory
# recursively, an ELF without its debug information and with its libraries, anything else
# as is. Symbolic links are followed (the guest gets the file under the name asked for).
stage_path() {
  local path=$1 dest=$stage$1 lib
  [[ -n ${staged[$path]:-} ]] && return 0
  staged[$path]=1
  [[ -e $path ]] || die "cannot copy $path into the guest: no such file"
  mkdir -p "$(dirname "$dest")"
  if [[ -d $path ]]; then
    mkdir -p "$dest"
    cp -RL "$path/." "$dest/"
  elif is_elf "$path"; then
    objcopy --strip-debug "$path" "$dest"
    while read -r lib; do stage_path "$lib"; done < <(elf_libraries "$path")
  else
    cp -L "$path" "$dest"
  fi
}

# Mirrors the host's top-level symbolic links (/bin -> usr/bin, /lib64 -> usr/lib64 on a
# merged-/usr system) so that files reach the guest by any of their names.
stage_skeleton() {
  local top
  mkdir -p "$stage"/{dev,proc,sys,tmp,run,etc,root,matrix/steps,usr/bin,usr/sbin,usr/lib}
  for top in /bin /sbin /lib /lib32 /lib64 /libx32; do
    if [[ -L $top ]]; then
      mkdir -p "$stage/$(readlink -f "$top")"
      ln -s "$(readlink "$top")" "$stage$top"
    fi
  done
}

# Links every busybox applet whose path nothing copied from the host occupies.
stage_busybox() {
  local applet
  stage_path "$BUSYBOX"
  while read -r applet; do
    [[ -e $stage/$applet || -L $stage/$applet ]] && continue
    mkdir -p "$stage/$(dirname "$applet")"
    ln -s "$BUSYBOX" "$stage/$applet"
  done < <("$BUSYBOX" --list-full)
}

# Prints the guest path of command $1: itself when it has a slash, else the first file
# of that name in the guest's PATH. (Debian's static busybox runs its own applet for a
# bare name, PATH or not: `ip` would be busybox's even with iproute2's in /usr/sbin.)
guest_command() {
  local dir
  if [[ $1 != */* ]]; then
    for dir in ${GUEST_PATH//:/ }; do
      if [[ -e $stage$dir/$1 || -L $stage$dir/$1 ]]; then
        printf '%s\n' "$dir/$1"
        return
      fi
    done
  fi
  printf '%s\n' "$1"
}

# Writes /init, the steps and their environment into the staging tree.
stage_steps() {
  local i
  install -m 755 "$MATRIX/init.sh" "$stage/init"
  printf '%s\n' "PATH=$GUEST_PATH" "${guest_env_lines[@]}" >"$stage/matrix/env"
  : >"$stage/matrix/steps.list"
  for i in "${!step_names[@]}"; do
    printf '%s %s%s\n' "${step_heads[$i]}" "$(shell_quote "$(guest_command "${step_commands[$i]}")")" \
      "${step_tails[$i]}" >"$stage/matrix/steps/$i.sh"
    printf '%s %s %s\n' "$i" "${step_names[$i]}" "${step_timeouts[$i]}" >>"$stage/matrix/steps.list"
  done
}

# Builds the initramfs $1 (cpio newc, gzip) from the steps declared.
build_initramfs() {
  local out=$1 path
  stage=$(mktemp -d "$WORK/stage.XXXXXX")
  chmod 755 "$stage"
  stage_skeleton
  for path in "${copies[@]}"; do stage_path "$path"; done
  for path in "${guest_dirs[@]}"; do mkdir -p "$stage$path"; done
  stage_busybox
  stage_steps
  pack_cpio "$stage" | gzip -1 >"$out"
  stage_mib=$(du -sm "$stage" | cut -f1)
  rm -rf "$stage"
}

# Packs the directory $1 into a cpio archive (newc, owned by root) on stdout.
pack_cpio() {
  (cd "$1" && find . -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --quiet)
}

# Prints the modules of kernel $1 that loading $modules needs, in load order, as paths
# below the kernel's directory in the cache; built-in ones are left out. Fails (modprobe
# says why) when the kernel has one of them neither built in nor as a module.
module_files() {
  local base=$CACHE/$1 release name
  release=$(cat "$base/release")
  for name in "${modules[@]}"; do
    modprobe -d "$base" -S "$release" --show-depends "$name" || return
  done | awk -v base="$base" '$1 == "insmod" && !seen[$2]++ { print substr($2, length(base) + 1) }'
}

# Writes the initramfs of kernel $1 to $2: an uncompressed archive of the modules it loads
# (decompressed, at their usual paths) and /matrix/modules.list, the order to load them
# in, followed by the common one ($3). The kernel unpacks the concatenated archives one
# after the other (uncompressed first, the way Debian puts early microcode in front).
build_kernel_initramfs() {
  local label=$1 out=$2 common=$3 dir files file dest
  rm -f "$out"
  if ((${#modules[@]} == 0)); then
    ln -sf "$(basename "$common")" "$out"
    return
  fi
  dir=$(mktemp -d "$WORK/modules.XXXXXX")
  chmod 755 "$dir"
  mkdir -p "$dir/matrix"
  mapfile -t files < <(module_files "$label")
  for file in "${files[@]}"; do
    dest=${file%.xz}
    dest=${dest%.zst}
    mkdir -p "$(dirname "$dir$dest")"
    case $file in
      *.xz) xz -dc "$CACHE/$label$file" >"$dir$dest" ;;
      *.zst) zstd -qdc "$CACHE/$label$file" >"$dir$dest" ;;
      *) cp "$CACHE/$label$file" "$dir$dest" ;;
    esac
    printf '%s\n' "$dest" >>"$dir/matrix/modules.list"
  done
  { pack_cpio "$dir"; cat "$common"; } >"$out"
  rm -rf "$dir"
}

# --- running the guests -----------------------------------------------------------------

# Boots kernel $1 with the initramfs $2, writing the console to $3; prints the seconds
# from qemu's start to /init ("-" if it never got there). Returns qemu's (or timeout's)
# exit status.
boot_kernel() {
  local label=$1 initrd=$2 console_log=$3 limit start line booted=-
  limit=$((BOOT_ALLOWANCE + $(printf '%s\n' "${step_timeouts[@]}" | awk '{ s += $1 } END { print s + 0 }')))
  start=$EPOCHREALTIME
  : >"$console_log"
  while IFS= read -r line; do
    line=${line%$'\r'}
    printf '%s\n' "$line" >>"$console_log"
    $verbose && printf '[%s] %s\n' "$label" "$line" >&2
    case $line in
      KOTEL-MATRIX-BOOTED*) booted=$(elapsed_since "$start") ;;
      KOTEL-MATRIX-STEP*) $verbose || log "$label: ${line#KOTEL-MATRIX-STEP }" ;;
    esac
  # One host thread runs every guest CPU (thread=single): with a thread per CPU (MTTCG),
  # the kernel's live text patching (int3 + IPI, as enabling a tracepoint does) raced and
  # oopsed ("Oops: int3" in syscall_trace_enter while kotel loaded its programs).
  done < <(timeout --kill-after=10 "$limit" qemu-system-x86_64 \
    -accel tcg,thread=single -cpu max -smp "$smp" -m "$mem" \
    -nodefaults -display none -no-reboot -serial stdio \
    -kernel "$CACHE/$label/vmlinuz" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet kotel.cgroup=$cgroup_layout" </dev/null 2>&1)
  local status=0
  wait $! || status=$?
  printf '%s\n' "$booted"
  return "$status"
}

# Seconds (two decimals) since the $EPOCHREALTIME value $1.
elapsed_since() {
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}

# Prints "<exit> <seconds>" of step $2 from console log $1, or "missing -".
step_result() {
  awk -v name="$2" '$1 == "KOTEL-MATRIX-STEP" && $2 == name {
      sub("exit=", "", $3); sub("seconds=", "", $4); print $3, $4; found = 1 }
    END { if (!found) print "missing -" }' "$1"
}

# Prints the console lines of step $2 in console log $1 (the last 150).
step_output() {
  awk -v name="$2" '$1 == "KOTEL-MATRIX-BEGIN" && $2 == name { on = 1; next }
    $1 == "KOTEL-MATRIX-STEP" && $2 == name { on = 0 }
    on' "$1" | tail -n 150
}

# Boots kernel $1 with the common initramfs $2 (plus its modules) and writes its results
# to $OUT/<label>.results: "<label> @package <package> <version>", then one "<label>
# <step> <exit> <seconds>" line per step between the pseudo-steps "boot" (exit 0 when
# /init started; seconds from qemu's start) and "total" (exit 0 when the guest finished
# every step; seconds of the whole run).
run_kernel() {
  local label=$1 initrd=$2 console_log=$OUT/$1.log results=$OUT/$1.results
  local start=$EPOCHREALTIME booted status=0 name code secs
  printf '%s @package %s\n' "$label" "$(cat "$CACHE/$label/package")" >"$results"
  build_kernel_initramfs "$label" "$OUT/initramfs-$label.cpio.gz" "$initrd"
  booted=$(boot_kernel "$label" "$OUT/initramfs-$label.cpio.gz" "$console_log") || status=$?
  case $booted:$status in
    -:124) code=timeout ;;
    -:*) code=no-init ;;
    *) code=0 ;;
  esac
  printf '%s boot %s %s\n' "$label" "$code" "$booted" >>"$results"
  for name in "${step_names[@]}"; do
    read -r code secs < <(step_result "$console_log" "$name")
    printf '%s %s %s %s\n' "$label" "$name" "$code" "$secs" >>"$results"
  done
  if grep -q '^KOTEL-MATRIX-DONE' "$console_log"; then
    code=0
  elif ((status == 124)); then
    code=timeout
  else
    code=unfinished
  fi
  printf '%s total %s %s\n' "$label" "$code" "$(elapsed_since "$start")" >>"$results"
}

# Runs every kernel of $labels, $jobs at a time.
run_all_kernels() {
  local initrd=$1 label
  for label in "${labels[@]}"; do
    # A guest that fails is reported by summarize, not here: keep starting the others.
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
    log "$label: booting $(cat "$CACHE/$label/package")"
    run_kernel "$label" "$initrd" &
  done
  wait
}

# Prints the results files given as a table, a row per kernel and a column per step, each
# cell "ok <seconds>s" or "<failure> <seconds>s".
results_table() {
  awk '
    !($1 in is_label) { is_label[$1] = 1; labels[++nl] = $1 }
    $2 == "@package" { cell[$1, "package"] = $3; cell[$1, "version"] = $4; next }
    !($2 in is_col) { is_col[$2] = 1; cols[++nc] = $2 }
    {
      state = $3 == "0" ? "ok" : ($3 ~ /^[0-9]+$/ ? "exit=" $3 : $3)
      cell[$1, $2] = state ($4 == "-" ? "" : " " $4 "s")
    }
    END {
      n = split("kernel package version", head, " ")
      for (c = 1; c <= nc; c++) head[++n] = cols[c]
      for (l = 1; l <= nl; l++) cell[labels[l], "kernel"] = labels[l]
      for (c = 1; c <= n; c++) {
        width[c] = length(head[c])
        for (l = 1; l <= nl; l++)
          if (length(cell[labels[l], head[c]]) > width[c]) width[c] = length(cell[labels[l], head[c]])
      }
      for (c = 1; c < n; c++) printf "%-*s  ", width[c], head[c]
      print head[n]
      for (l = 1; l <= nl; l++) {
        for (c = 1; c < n; c++) printf "%-*s  ", width[c], cell[labels[l], head[c]]
        print cell[labels[l], head[n]]
      }
    }' "$@"
}

# Prints, per kernel and program, the verifier's figures from the KERNEL-PROGRAM lines the
# load-combination test writes: the deepest stack over the combinations (bytes, 32-byte
# frames) with its frames, the verification times and the most instructions processed.
program_figures() {
  local label logs=()
  for label in "${labels[@]}"; do logs+=("$OUT/$label.log"); done
  grep -qa 'KERNEL-PROGRAM ' "${logs[@]}" 2>/dev/null || return 0
  printf '\n%-6s %-10s %-24s %6s  %-14s %-14s %s\n' kernel source program stack frames verify_ms insns
  for label in "${labels[@]}"; do
    grep -ao 'KERNEL-PROGRAM .*' "$OUT/$label.log" | tr -d '\r' | awk -v k="$label" '{
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%-6s %-10s %-24s %6s  %-14s %-14s %s\n", k, v["source"], v["program"], v["stack"], v["frames"], v["verify_ms"], v["insns"]
    }'
  done
}

# Prints the summary of the kernels run and the output of every step that failed; returns
# 1 if anything failed.
summarize() {
  local files=() label name code
  for label in "${labels[@]}"; do files+=("$OUT/$label.results"); done
  printf '\n'
  results_table "${files[@]}"
  program_figures
  local failed=0
  for label in "${labels[@]}"; do
    grep -q "^$label total " "$OUT/$label.results" && continue
    log "$label: no result; running it failed (see above)"
    failed=1
  done
  while read -r label name code _; do
    [[ $name == @package || $code == 0 ]] && continue
    failed=1
    case $name in
      boot) ;;
      total)
        printf '\n== the guest of %s: %s; its console ends with (whole: %s)\n' "$label" "$code" "$OUT/$label.log"
        tail -n 40 "$OUT/$label.log"
        ;;
      *)
        printf '\n== %s on %s: %s (whole console: %s)\n' "$name" "$label" "$code" "$OUT/$label.log"
        step_output "$OUT/$label.log" "$name"
        ;;
    esac
  done < <(cat "${files[@]}")
  return "$failed"
}

# --- main -------------------------------------------------------------------------------

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
}

parse_args() {
  while (($#)); do
    case $1 in
      --steps) steps_file=$2; shift 2 ;;
      --cgroup) cgroup_layout=$2; shift 2 ;;
      --smp) smp=$2; shift 2 ;;
      --mem) mem=$2; shift 2 ;;
      --jobs) jobs=$2; shift 2 ;;
      --verbose | -v) verbose=true; shift ;;
      -h | --help) usage; exit 0 ;;
      -*) die "unknown option $1 (see --help)" ;;
      *) labels+=("$1"); shift ;;
    esac
  done
  [[ $cgroup_layout == unified || $cgroup_layout == hybrid ]] || die "--cgroup: unified or hybrid"
}

# Every label of kernels.txt.
all_labels() {
  sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$MATRIX/kernels.txt" | awk '{ print $1 }'
}

# Checks that every kernel asked for is in the cache.
check_kernels() {
  local label
  for label in "${labels[@]}"; do
    [[ -f $CACHE/$label/release ]] ||
      die "no kernel '$label' in $CACHE (labels of scripts/matrix/kernels.txt; run scripts/setup-kernel-matrix.sh as root)"
  done
}

# Checks that every kernel asked for has the modules the steps want.
check_modules() {
  local label
  for label in "${labels[@]}"; do
    module_files "$label" >/dev/null || die "kernel $label lacks a module of: ${modules[*]}"
  done
}

main() {
  parse_args "$@"
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH:/usr/sbin:/sbin"
  [[ $(id -u) -ne 0 ]] || bash "$ROOT/scripts/setup-kernel-matrix.sh"
  ((${#labels[@]})) || mapfile -t labels < <(all_labels)
  # Each guest runs on one host thread (see boot_kernel): one guest per host CPU.
  : "${jobs:=$(nproc)}"
  ((jobs <= ${#labels[@]})) || jobs=${#labels[@]}
  check_kernels
  mkdir -p "$OUT"
  : >"$OUT/cargo.log"
  # Scratch space (initramfs trees), removed on exit.
  WORK=$(mktemp -d "$OUT/work.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  local initrd=$OUT/initramfs.cpio.gz started=$EPOCHREALTIME phase status
  # shellcheck source=scripts/matrix/steps.sh
  source "$steps_file"
  ((${#step_names[@]})) || die "$steps_file declares no step"
  check_modules
  log "steps: ${step_names[*]} (declared in $(elapsed_since "$started") s, builds included)"
  phase=$EPOCHREALTIME
  build_initramfs "$initrd"
  : "${mem:=$(((stage_mib + $(du -m "$initrd" | cut -f1) + 512 + 63) / 64 * 64))}"
  log "initramfs: ${stage_mib} MiB unpacked, $(du -m "$initrd" | cut -f1) MiB gzip, built in $(elapsed_since "$phase") s; guests: $smp CPUs, $mem MiB, $jobs at a time"
  run_all_kernels "$initrd"
  summarize && status=0 || status=$?
  log "total $(elapsed_since "$started") s for ${#labels[@]} kernel(s)"
  return "$status"
}

main "$@"
