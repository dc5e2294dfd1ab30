#!/usr/bin/env bash
# Build localhost/mlres-py:local (Debian bookworm minbase + python3) for the podman end-to-end
# tests, from Debian's own mirror (no image registry is reachable). Skips when it is up to date.
set -euo pipefail
IMAGE="${MLRES_TEST_IMAGE:-localhost/mlres-py:local}"
RECIPE=2  # bump when the recipe changes: python3-minimal lacks json, which the runner needs
command -v podman >/dev/null || { echo "build-test-image: podman not installed" >&2; exit 1; }
if podman image exists "$IMAGE" &&
   [[ "$(podman image inspect --format '{{index .Config.Labels "mlres.recipe"}}' "$IMAGE" 2>/dev/null)" == "$RECIPE" ]]; then
  exit 0
fi
command -v debootstrap >/dev/null || { echo "build-test-image: debootstrap not installed" >&2; exit 1; }
ROOTFS="$(mktemp -d /tmp/mlres-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
start=$(date +%s)
# The Debian mirror this machine's apt already uses (deb822 or one-line sources), unless given.
mirror_from_apt() {
  { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' || true
    grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -E 's/^deb (\[[^]]*\] )?//' | awk '{print $1}' || true
  } | grep -v -- '-security' | grep -E '/debian/?$' | head -n1 || true
}
MIRROR="${MLRES_DEBIAN_MIRROR:-$(mirror_from_apt)}"
[[ -n "$MIRROR" ]] || { echo "build-test-image: no Debian mirror in apt sources; set MLRES_DEBIAN_MIRROR" >&2; exit 1; }
debootstrap --variant=minbase --include=python3 bookworm "$ROOTFS" "$MIRROR" >/dev/null
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -cf - . | podman import \
  --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL=mlres.recipe=$RECIPE" - "$IMAGE" >/dev/null 2>&1
echo "build-test-image: built $IMAGE in $(( $(date +%s) - start ))s"
