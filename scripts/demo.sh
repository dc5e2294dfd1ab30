#!/usr/bin/env bash
# Set up jupyter_mlres in .venv and run the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${MLRES_VENV:-.venv}/bin/python" -m jupyter_mlres.demo "$@"
