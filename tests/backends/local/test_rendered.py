"""The local backend on what core's renderer really produces (Function.to_run)."""

from __future__ import annotations

import uuid
from pathlib import Path

from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.core.function import new_function
from jupyter_mlres.core.runs import JobPhase
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.core.volumes import mount_pvc

from .conftest import wait

CODE = """
import os
def train(scale):
    files = sorted(os.listdir("{mount}"))
    print("rank", os.environ["RANK"], "gpus", os.environ["CUDA_VISIBLE_DEVICES"], "files", files)
    return int(os.environ["RANK"]) * scale + len(files)
"""


def test_a_rendered_function_runs_with_its_resources(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("1\n")
    mount = tmp_path / "mnt" / "data"
    settings = Settings(
        local_run_root=str(tmp_path / "runs"),
        local_gpu_devices=["0", "1"],
        local_volume_map={"pvc:datasets": str(data)},
    )
    fn = new_function("train", code=CODE.format(mount=mount), handler="train")
    fn.with_limits(mem="512Mi", cpu="1", gpus=1).with_node_selection(node_selector={"pool": "gpu"})
    fn.spec.replicas = 2
    fn.apply(mount_pvc("datasets", "data", str(mount)))
    run = fn.to_run(settings, run_id=f"train-{uuid.uuid4().hex[:8]}", params={"scale": 10})

    backend = LocalBackend(settings)
    backend.submit(run)
    status, events = wait(backend, run.run_id)

    assert status.phase == JobPhase.SUCCEEDED, list(backend.logs(run.run_id))
    lines = sorted((line.replica, line.text) for line in backend.logs(run.run_id))
    # A GPU limit is per replica (per pod): each replica has a GPU of its own.
    assert lines == [(0, "rank 0 gpus 0 files ['a.csv']"), (1, "rank 1 gpus 1 files ['a.csv']")]
    assert backend.result(run.run_id) == 1  # replica 0's: 0 * 10 + 1 file
    (not_honoured,) = [e for e in events if e.reason == "NotHonoured"]
    assert "nodeSelector" in not_honoured.message
    assert any(e.reason == "VolumeMounted" for e in events)
