"""Host-wide GPU allocation, so that two local jobs never share a GPU.

State lives in one directory (``<run root>/../gpus``): a lock file taken with ``flock`` and one
JSON record per run holding GPUs (``{"run_id", "devices", "pid", "pid_started"}``). A record whose
process is gone (or whose pid now belongs to another process) is stale and reclaimed by the next
allocation, so a crashed supervisor never leaks GPUs.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Allocation", "GpuAllocator", "detect_gpus", "process_alive"]

_NVIDIA_SMI_LINE = re.compile(r"^GPU (\d+):")


def detect_gpus() -> list[str]:
    """Indexes of the NVIDIA GPUs ``nvidia-smi -L`` lists; none without ``nvidia-smi``."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [m.group(1) for line in out.stdout.splitlines() if (m := _NVIDIA_SMI_LINE.match(line.strip()))]


def process_alive(pid: int | None, started: float | None) -> bool:
    """Is ``pid`` still the process that started at ``started`` (not a zombie, not recycled)?"""
    if not pid:
        return False
    import psutil  # here, not at the top: the supervisor starts faster without it

    try:
        proc = psutil.Process(pid)
        if started is not None and abs(proc.create_time() - started) > 0.5:
            return False
        return proc.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


@dataclass(frozen=True)
class Allocation:
    """The outcome of one attempt: ``devices`` when granted, else what stands in the way."""

    devices: tuple[str, ...] | None
    free: int
    total: int
    holders: tuple[str, ...] = ()


class GpuAllocator:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.state_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _records(self) -> dict[str, tuple[str, ...]]:
        """Run id -> devices of the live records; stale ones are deleted on the way."""
        records: dict[str, tuple[str, ...]] = {}
        for path in self.state_dir.glob("*.json"):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                pid, started = int(record["pid"]), record.get("pid_started")
                devices = tuple(str(d) for d in record["devices"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being written, or not ours
            if not process_alive(pid, float(started) if started is not None else None):
                path.unlink(missing_ok=True)  # stale: its holder is gone
                continue
            records[path.stem] = devices
        return records

    def allocate(
        self, run_id: str, count: int, devices: Sequence[str], pid: int, pid_started: float
    ) -> Allocation:
        """Take ``count`` free devices for ``run_id`` (held by process ``pid``), or say why not."""
        with self._locked():
            records = self._records()
            if run_id in records:
                return Allocation(records[run_id], len(devices), len(devices))
            used = {d for held in records.values() for d in held}
            free = [d for d in devices if d not in used]
            if len(free) < count:
                holders = tuple(sorted(r for r, held in records.items() if held))
                return Allocation(None, len(free), len(devices), holders)
            granted = tuple(free[:count])
            record = {"run_id": run_id, "devices": list(granted), "pid": pid, "pid_started": pid_started}
            tmp = self.state_dir / f".{run_id}.tmp"
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, self.state_dir / f"{run_id}.json")
            return Allocation(granted, len(free) - count, len(devices))

    def release(self, run_id: str) -> None:
        with self._locked():
            (self.state_dir / f"{run_id}.json").unlink(missing_ok=True)

    def held(self) -> dict[str, list[str]]:
        """Run id -> devices, live records only."""
        with self._locked():
            return {run_id: list(devices) for run_id, devices in self._records().items()}
