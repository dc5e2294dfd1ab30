"""The README's first command runs the demo: it must work on a fresh machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_a_cell_as_a_local_job_and_streams_it(tmp_path: Path) -> None:
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path), "MLRES_VIEW": ""}
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_mlres.demo", "--quick"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines.index("summarize: Running") < lines.index("step 1/2: scaling 6 samples")
    assert lines.index("step 2/2: scaling 6 samples") < lines.index("summarize: Succeeded")
    assert "result: {'mean': 8.067, 'max': 10.4}" in lines
    assert any(line.startswith("summarize-") for line in lines)  # %mlrun jobs lists the run
    assert list((tmp_path / "mlres" / "runs").iterdir())  # under the Jupyter data dir
