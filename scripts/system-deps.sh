#!/usr/bin/env bash
# System packages the tests need (Debian). Idempotent: skips quickly when already installed.
#   chromium: headless browser for the JupyterLab sidebar tests (tests/browser; never downloaded)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "system-deps: missing ${missing[*]} (need root to install); browser tests will skip" >&2
  else
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi
