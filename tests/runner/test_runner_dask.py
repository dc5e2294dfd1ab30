"""Dask jobs in the stdlib-only runner: a clear message when the image lacks ``distributed``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jupyter_mlres.runner as runner_module

RUNNER = Path(runner_module.__file__).read_text(encoding="utf-8")


def test_a_dask_job_without_distributed_names_the_package(tmp_path: Path) -> None:
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "mlres_runner.py").write_text(RUNNER)
    (code_dir / "main.py").write_text("print(client)\n")
    job = {"name": "d", "handler": None, "params": {}, "kind": "dask", "dask": {"minimum": 1, "maximum": 2}}
    (code_dir / "job.json").write_text(json.dumps(job))
    result = tmp_path / "result.json"
    # -S: no site-packages, like a bare image with only the standard library
    proc = subprocess.run(
        [sys.executable, "-S", str(code_dir / "mlres_runner.py")],
        env={"MLRES_CODE_DIR": str(code_dir), "MLRES_RESULT_PATH": str(result)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "needs the Python package 'distributed'" in proc.stderr
    assert "pip install distributed" in proc.stderr
    assert not result.exists()
