"""Turn a local Dask cluster's status lines into job events and replica records.

The runner of a ``dask`` job appends one JSON object per change to ``dask.jsonl`` in the run
directory (``{"time", "minimum", "maximum", "workers": [names], "tasks": {state: count}}``).
The supervisor reads it here: each worker becomes a replica (index 1, 2, ... in order of first
appearance; replica 0 is the job itself), Running while it is up and Succeeded (``Retired``)
once adaptive scaling removed it; a change in the number of workers is one ``Scaled`` event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlres.core.runs import JobPhase

__all__ = ["DaskStatusReader", "WorkerChange", "scaled_message"]

_TASK_ORDER = ("processing", "waiting", "no-worker", "queued", "memory", "erred")


@dataclass(frozen=True)
class WorkerChange:
    """A replica (worker) came up or went away, or the number of workers changed (index None)."""

    reason: str
    message: str
    index: int | None = None
    phase: JobPhase | None = None
    name: str = ""


def scaled_message(workers: int, minimum: int, maximum: int, tasks: dict[str, int]) -> str:
    shown = [f"{tasks[s]} {s}" for s in _TASK_ORDER if tasks.get(s)]
    return f"{workers} worker(s) (min {minimum}, max {maximum}); tasks: {', '.join(shown) or 'none'}"


@dataclass
class DaskStatusReader:
    path: Path
    offset: int = 0
    indices: dict[str, int] = field(default_factory=dict)
    up: set[str] = field(default_factory=set)
    count: int | None = None
    peak: int = 0
    _partial: bytes = b""

    def poll(self) -> list[WorkerChange]:
        """What changed since the last call (nothing when the file does not exist yet)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        changes: list[WorkerChange] = []
        for raw in lines:
            try:
                record: dict[str, Any] = json.loads(raw)
            except ValueError:
                continue
            changes.extend(self._apply(record))
        return changes

    def _apply(self, record: dict[str, Any]) -> list[WorkerChange]:
        workers = [str(w) for w in record.get("workers") or []]
        changes: list[WorkerChange] = []
        for name in workers:
            if name in self.up:
                continue
            index = self.indices.setdefault(name, len(self.indices) + 1)
            self.up.add(name)
            changes.append(
                WorkerChange("WorkerStarted", f"dask worker {name}", index, JobPhase.RUNNING, name)
            )
        for name in sorted(self.up - set(workers)):
            self.up.discard(name)
            changes.append(
                WorkerChange(
                    "Retired",
                    f"dask worker {name}: scaled down",
                    self.indices[name],
                    JobPhase.SUCCEEDED,
                    name,
                )
            )
        if len(workers) != self.count:
            self.count = len(workers)
            self.peak = max(self.peak, self.count)
            tasks = {str(k): int(v) for k, v in (record.get("tasks") or {}).items()}
            message = scaled_message(
                self.count, int(record.get("minimum", 0)), int(record.get("maximum", 0)), tasks
            )
            changes.append(WorkerChange("Scaled", message))
        return changes
