#!/usr/bin/env bash
# Run every check jupyter_mlres has: lint, format, types, layer contracts, unit/integration tests,
# tutorial notebooks (nbval). Installs what they need first, so it works on a fresh machine.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k quantity`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --test

VENV="${MLRES_VENV:-.venv}"
export PATH="$PWD/$VENV/bin:$PATH"

echo "== ruff"; ruff check . && ruff format --check .
echo "== mypy (strict)"; mypy
echo "== import contracts"; lint-imports
echo "== pytest"
# The tutorials are tests too (nbval); git keeps no empty folders, so look before passing it.
targets=(tests)
compgen -G "notebooks/*.ipynb" > /dev/null && targets+=(notebooks)
pytest --nbval-lax -p no:cacheprovider "${targets[@]}" "$@"
