#!/usr/bin/env bash
# System packages the tests need (Debian). Idempotent: skips quickly when already installed.
#   podman & co: real containers for the Kubernetes end-to-end tests (tests/backends/kubernetes)
#   chromium:    headless browser for the JupyterLab sidebar/panel tests (never downloaded)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(podman runc conmon catatonit debootstrap chromium fonts-liberation)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "system-deps: missing ${missing[*]} (need root to install); podman/browser tests will skip" >&2
  else
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# The local container image for the podman tests (no image registry is reachable).
bash scripts/build-test-image.sh || echo "system-deps: test image not built; podman tests will skip" >&2
