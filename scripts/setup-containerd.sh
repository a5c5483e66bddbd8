#!/usr/bin/env bash
# Prepares the real containerd that the `k8s_cri` integration tests run (root, Debian),
# idempotently; a second run only checks and returns in well under a second:
#  - installs containerd, runc, the CNI plugins, busybox-static and a C compiler;
#  - makes sure no containerd the package may have started serves the default socket
#    (the tests start their own containerd; the agent's auto-discovery probes the default);
#  - writes two one-layer OCI image archives that `ctr images import` registers as
#    docker.io/kotel/pause:3.9 and docker.io/kotel/busybox:1.36, into
#    /var/lib/kotel-test/images/ (pause.tar, busybox.tar), rebuilt only when missing.
# It does not start containerd: tests/src/containerd.rs does, in a directory of its own.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

IMAGES_DIR=${KOTEL_TEST_IMAGES:-/var/lib/kotel-test/images}
DEFAULT_SOCKET=/run/containerd/containerd.sock
APT_PACKAGES=(containerd runc containernetworking-plugins busybox-static gcc libc6-dev)
BUSYBOX_APPLETS=(sh sleep nc wget echo cat ls ps true false env id kill cp mv rm mkdir touch grep hostname ip)

log() { printf 'setup-containerd: %s\n' "$*" >&2; }
done_steps=()

[[ $(id -u) -eq 0 ]] || { log "run as root"; exit 1; }

install_packages() {
  local missing
  mapfile -t missing < <(missing_apt_packages "${APT_PACKAGES[@]}")
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  apt_install "${missing[@]}"
  done_steps+=("installed ${missing[*]}")
  stop_system_containerd
}

# The package may start its own containerd (a systemd unit, or an init script). Stop the
# service if there is a service manager, then end whatever still listens on the default
# socket, found by the socket itself (never by process name).
stop_system_containerd() {
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl disable --now containerd.service >/dev/null 2>&1 || true
  elif [[ -x /etc/init.d/containerd ]]; then
    /etc/init.d/containerd stop >/dev/null 2>&1 || true
  fi
  local pids
  pids=$(ss -xlpnH "src = $DEFAULT_SOCKET" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true)
  if [[ -n "$pids" ]]; then
    log "stopping the packaged containerd on $DEFAULT_SOCKET (pid $pids)"
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 50); do [[ -S $DEFAULT_SOCKET ]] || break; sleep 0.1; done
    done_steps+=("stopped the packaged containerd")
  fi
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Stores a file as a content-addressed blob of the layout in $1; prints "digest size".
add_blob() {
  local layout=$1 file=$2 digest
  digest=$(sha256_of "$file")
  cp "$file" "$layout/blobs/sha256/$digest"
  printf '%s %s\n' "$digest" "$(stat -c %s "$file")"
}

# build_image OUT.tar NAME ROOTFS CONFIG_PROCESS_JSON: writes an OCI image layout archive
# with one uncompressed layer (so the layer digest is its diff id), tagged NAME through
# the `io.containerd.image.name` annotation (and the tag as `org.opencontainers.image.ref.name`).
build_image() {
  local out=$1 name=$2 rootfs=$3 process=$4
  local work layer_digest layer_size config_digest config_size manifest_digest manifest_size
  work=$(mktemp -d)
  mkdir -p "$work/layout/blobs/sha256"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$rootfs" -cf "$work/layer.tar" .
  read -r layer_digest layer_size < <(add_blob "$work/layout" "$work/layer.tar")
  cat >"$work/config.json" <<EOF
{"architecture":"amd64","os":"linux","config":{$process,"Env":["PATH=/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:$layer_digest"]},"history":[{"created_by":"kotel scripts/setup-containerd.sh"}]}
EOF
  read -r config_digest config_size < <(add_blob "$work/layout" "$work/config.json")
  cat >"$work/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:$config_digest","size":$config_size},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:$layer_digest","size":$layer_size}]}
EOF
  read -r manifest_digest manifest_size < <(add_blob "$work/layout" "$work/manifest.json")
  cat >"$work/layout/index.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:$manifest_digest","size":$manifest_size,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"$name","org.opencontainers.image.ref.name":"${name##*:}"}}]}
EOF
  printf '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
  tar --owner=0 --group=0 --numeric-owner -C "$work/layout" -cf "$out.tmp" oci-layout index.json blobs
  mv "$out.tmp" "$out"
  rm -rf "$work"
  done_steps+=("built $name")
}

# The pause image: a static binary that sleeps until SIGTERM or SIGINT, then exits 0, and
# reaps children meanwhile (it is PID 1 of the pod when the PID namespace is shared).
build_pause() {
  local out=$IMAGES_DIR/pause.tar
  [[ -s $out ]] && return 0
  local work
  work=$(mktemp -d)
  cat >"$work/pause.c" <<'EOF'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  signal(SIGTERM, quit);
  signal(SIGINT, quit);
  signal(SIGCHLD, reap);
  for (;;) pause();
}
EOF
  mkdir -p "$work/rootfs"
  gcc -static -O2 -s -o "$work/rootfs/pause" "$work/pause.c"
  build_image "$out" docker.io/kotel/pause:3.9 "$work/rootfs" '"Entrypoint":["/pause"]'
  rm -rf "$work"
}

build_busybox() {
  local out=$IMAGES_DIR/busybox.tar
  [[ -s $out ]] && return 0
  local work applet
  work=$(mktemp -d)
  mkdir -p "$work/rootfs/bin" "$work/rootfs/tmp" "$work/rootfs/etc"
  cp /bin/busybox "$work/rootfs/bin/busybox"
  for applet in "${BUSYBOX_APPLETS[@]}"; do ln -s busybox "$work/rootfs/bin/$applet"; done
  printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$work/rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
  build_image "$out" docker.io/kotel/busybox:1.36 "$work/rootfs" '"Cmd":["sh"]'
  rm -rf "$work"
}

install_packages
mkdir -p "$IMAGES_DIR"
build_pause
build_busybox
if [[ -S $DEFAULT_SOCKET ]]; then
  log "warning: something serves $DEFAULT_SOCKET; the agent's CRI auto-discovery will find it"
fi
if ((${#done_steps[@]})); then
  summary=$(printf '%s; ' "${done_steps[@]}")
  log "${summary%; }"
else
  log "containerd, runc and the test images in $IMAGES_DIR are ready (nothing to do)"
fi
