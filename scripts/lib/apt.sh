# Shared by the setup scripts (sourced, not run): Debian package helpers.

# Prints, one per line, the packages among the arguments that are not installed.
missing_apt_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$pkg"
  done
}

# Installs the given packages quietly, without recommends.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Installs those of the given packages that are missing, saying so with the caller's
# `log` and recording the step in its `done_steps` array; silent when all are there.
install_missing_apt_packages() {
  local missing
  mapfile -t missing < <(missing_apt_packages "$@")
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  apt_install "${missing[@]}"
  done_steps+=("installed ${missing[*]}")
}

# Creates the Python venv at $1 (with the system python3) unless it exists, recording the
# step in the caller's `done_steps` array.
ensure_venv() {
  local venv=$1 python=/usr/bin/python3
  [[ -x $venv/bin/python ]] && return 0
  [[ -x $python ]] || python=$(command -v python3)
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
  done_steps+=("created $venv")
}
