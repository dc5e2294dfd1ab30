"""Where local runs live and what each run directory holds.

::

    <run root>/                      settings.local_run_root or <jupyter data dir>/mlres/runs
      <run_id>/
        code/                        the ConfigMap's files: mlres_runner.py, main.py, job.json, attachments
        manifests.json               the rendered Kubernetes objects (never a secret value)
        plan.json                    what the supervisor does (env, limits, mounts; mode 0600)
        status.json                  RunStatus snapshot, replaced atomically
        events.jsonl                 JobEvents, one JSON object per line, appended
        output.log                   the full log (format in logfile.py)
        result.json, result-<i>.json the runner's result of replica 0 / replica i
        pids.json                    replica pids and start ticks, written the moment they start
        supervisor.json              the supervisor's pid and start time
        supervisor.log               the supervisor's own errors, if any
        cancel                       present once a cancel was asked for
        links.json                   mount-path symlinks this run created
        dask.jsonl                   dask runs: the local cluster's workers and tasks (daskstatus.py)
    <run root>/../gpus/              host-wide GPU allocation: lock + one record per run
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jupyter_mlres.core.settings import Settings

__all__ = ["RunDir", "default_run_root", "run_root"]


def default_run_root() -> Path:
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "mlres" / "runs"


def run_root(settings: Settings) -> Path:
    if settings.local_run_root:
        return Path(settings.local_run_root).expanduser().absolute()
    return default_run_root()


@dataclass(frozen=True)
class RunDir:
    """The files of one run."""

    path: Path

    @property
    def code(self) -> Path:
        return self.path / "code"

    @property
    def manifests(self) -> Path:
        return self.path / "manifests.json"

    @property
    def plan(self) -> Path:
        return self.path / "plan.json"

    @property
    def status(self) -> Path:
        return self.path / "status.json"

    @property
    def events(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def log(self) -> Path:
        return self.path / "output.log"

    @property
    def supervisor_log(self) -> Path:
        return self.path / "supervisor.log"

    @property
    def cancel_request(self) -> Path:
        return self.path / "cancel"

    @property
    def links(self) -> Path:
        return self.path / "links.json"

    @property
    def dask_status(self) -> Path:
        return self.path / "dask.jsonl"

    def result(self, replica: int = 0) -> Path:
        return self.path / ("result.json" if replica == 0 else f"result-{replica}.json")

    @property
    def gpu_state(self) -> Path:
        return self.path.parent.parent / "gpus"
