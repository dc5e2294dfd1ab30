#!/usr/bin/env bash
# Build localhost/mlres-py:local (Debian bookworm minbase + python3-minimal) for the podman
# end-to-end tests, from Debian's own mirror (no image registry needed). Skips when it exists.
set -euo pipefail
IMAGE="${MLRES_TEST_IMAGE:-localhost/mlres-py:local}"
command -v podman >/dev/null || { echo "build-test-image: podman not installed" >&2; exit 1; }
if podman image exists "$IMAGE"; then
  exit 0
fi
command -v debootstrap >/dev/null || { echo "build-test-image: debootstrap not installed" >&2; exit 1; }
ROOTFS="$(mktemp -d /tmp/mlres-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
start=$(date +%s)
debootstrap --variant=minbase --include=python3-minimal bookworm "$ROOTFS" http://deb.debian.org/debian >/dev/null
tar -C "$ROOTFS" -cf - . | podman import \
  --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$IMAGE" >/dev/null
echo "build-test-image: built $IMAGE in $(( $(date +%s) - start ))s"
