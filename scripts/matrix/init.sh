#!/bin/busybox sh
# shellcheck shell=sh
# /init of the guests that scripts/kernel-matrix.sh boots (a busybox sh script; the
# initramfs is the whole root filesystem). Prepares what a node offers an eBPF agent, runs
# the steps the host put in /matrix/steps/ in order, and prints one machine-readable line
# per step on the console, which the host parses:
#   KOTEL-MATRIX-BOOTED uptime=<s> kernel=<release>
#   KOTEL-MATRIX-BEGIN <step>
#   KOTEL-MATRIX-STEP <step> exit=<code> seconds=<s>
#   KOTEL-MATRIX-DONE
# then powers the machine off. Kernel command line options it reads:
#   kotel.cgroup=unified  cgroup2 at /sys/fs/cgroup (default, what current distributions do)
#   kotel.cgroup=hybrid   a tmpfs at /sys/fs/cgroup with cgroup2 at /sys/fs/cgroup/unified
#                         (the layout of the development machine)
export HOME=/root TERM=dumb

# mount_fs TYPE DIR [OPTIONS]: creates DIR and mounts a TYPE filesystem there, saying so
# when the kernel refuses.
mount_fs() {
  mkdir -p "$2"
  mount -t "$1" ${3:+-o "$3"} "$1" "$2" || echo "kotel-matrix: cannot mount $1 on $2"
}

# Prints the value of the kernel command line option $1 (kotel.x=value), or $2.
cmdline_option() {
  read -r cmdline </proc/cmdline
  for word in $cmdline; do
    case $word in "$1"=*) echo "${word#*=}"; return ;; esac
  done
  echo "$2"
}

# Mounts the kernel's filesystems, the cgroup2 hierarchy in the layout asked for.
mount_all() {
  mount_fs proc /proc
  mount_fs sysfs /sys
  mount_fs devtmpfs /dev
  # The kernel found no /dev/console in the initramfs: take the console now.
  exec </dev/console >/dev/console 2>&1
  mount_fs devpts /dev/pts
  mount_fs tmpfs /dev/shm
  mount_fs bpf /sys/fs/bpf
  mount_fs tracefs /sys/kernel/tracing
  mount_fs debugfs /sys/kernel/debug
  mount_fs securityfs /sys/kernel/security
  case $(cmdline_option kotel.cgroup unified) in
    hybrid)
      mount_fs tmpfs /sys/fs/cgroup mode=755
      mount_fs cgroup2 /sys/fs/cgroup/unified nsdelegate
      ;;
    *) mount_fs cgroup2 /sys/fs/cgroup nsdelegate ;;
  esac
}

# The few files of /etc that programs expect, the loopback interface and a hostname.
prepare_system() {
  # /tmp and /run stay on the root filesystem (already in memory): host files copied
  # below /tmp must stay visible.
  mkdir -p /etc /root /tmp /var/tmp /run
  chmod 1777 /tmp /var/tmp
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >/etc/passwd
  printf 'root:x:0:\nnogroup:x:65534:\n' >/etc/group
  printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >/etc/hosts
  echo 'hosts: files' >/etc/nsswitch.conf
  : >/etc/resolv.conf
  hostname kotel-matrix
  echo kotel-matrix >/etc/hostname
  ip link set lo up
}

# Loads the kernel modules the host listed, in order (dependencies first).
load_modules() {
  [ -f /matrix/modules.list ] || return 0
  while read -r module; do
    insmod "$module" || echo "kotel-matrix: cannot load $module"
  done </matrix/modules.list
}

# Seconds since boot, with hundredths.
uptime_s() {
  read -r up _ </proc/uptime
  echo "$up"
}

# Runs step $2 (the script /matrix/steps/$1.sh) under its timeout $3, timed.
run_step() {
  echo "KOTEL-MATRIX-BEGIN $2"
  start=$(uptime_s)
  timeout -s KILL "$3" sh "/matrix/steps/$1.sh" </dev/null
  code=$?
  end=$(uptime_s)
  echo "KOTEL-MATRIX-STEP $2 exit=$code seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')"
}

main() {
  # PATH and the host's `guest_env` lines: every step sees them.
  set -a
  # shellcheck source=/dev/null
  . /matrix/env
  set +a
  mount_all
  load_modules
  prepare_system
  echo "KOTEL-MATRIX-BOOTED uptime=$(uptime_s) kernel=$(uname -r)"
  # /matrix/steps.list: "<index> <name> <timeout seconds>" per step, in order.
  while read -r index name limit; do
    run_step "$index" "$name" "$limit"
  done </matrix/steps.list
  echo KOTEL-MATRIX-DONE
  sync
  poweroff -f
}

main
