#!/usr/bin/env bash
# Create the virtual environment and install jupyter_mlres into it (editable).
#   --test   also install the test tools and the system packages the tests need
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${MLRES_VENV:-.venv}"
WITH_TESTS=0
[[ "${1:-}" == "--test" ]] && WITH_TESTS=1

if [[ $WITH_TESTS == 1 && -f scripts/system-deps.sh ]]; then
  bash scripts/system-deps.sh
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
if [[ $WITH_TESTS == 1 ]]; then
  "$VENV/bin/pip" install -q -e '.[test]'
else
  "$VENV/bin/pip" install -q -e .
fi
