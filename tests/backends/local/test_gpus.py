"""Host-wide GPU allocation: two local runs never share a GPU; a run that cannot get enough waits."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.backends.local.gpus import GpuAllocator, detect_gpus
from jupyter_mlres.core.runs import JobEvent, JobPhase, RunId
from jupyter_mlres.core.settings import Settings

from .conftest import log_text, make_run, wait

HOLD_UNTIL_CANCELLED = """
import os, time
print("devices", os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
time.sleep(600)
"""


def _gpu_run(count: int, code: str = HOLD_UNTIL_CANCELLED):  # type: ignore[no-untyped-def]
    return make_run(code, limits={"nvidia.com/gpu": str(count)})


def _devices(backend: LocalBackend, run_id: RunId) -> list[str]:
    for line in backend.logs(run_id, follow=True):
        if line.text.startswith("devices"):
            return line.text.split()[1].split(",")
    pytest.fail(f"run ended before printing its devices: {backend.status(run_id)}")


def _first(backend: LocalBackend, run_id: RunId, reason: str) -> JobEvent:
    for event in backend.events(run_id, follow=True):
        if event.reason == reason:
            return event
    pytest.fail(f"no {reason} event: {backend.status(run_id)}")


@pytest.fixture
def gpu_backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(Settings(local_run_root=str(tmp_path / "runs"), local_gpu_devices=["0", "1", "2"]))


def test_concurrent_runs_get_disjoint_gpus_and_a_third_waits_unschedulable(gpu_backend: LocalBackend) -> None:
    backend = gpu_backend
    first, second, third = _gpu_run(2), _gpu_run(1), _gpu_run(1)
    backend.submit(first)
    first_devices = _devices(backend, first.run_id)
    backend.submit(second)
    second_devices = _devices(backend, second.run_id)
    assert len(first_devices) == 2
    assert len(second_devices) == 1
    assert set(first_devices).isdisjoint(second_devices)
    assert set(first_devices) | set(second_devices) == {"0", "1", "2"}

    backend.submit(third)
    waiting = _first(backend, third.run_id, "Unschedulable")
    assert waiting.phase == JobPhase.PENDING
    assert "1 GPU(s) (nvidia.com/gpu) requested, 0 of 3 free" in waiting.message
    status = backend.status(third.run_id)
    assert (status.phase, status.reason) == (JobPhase.PENDING, "Unschedulable")

    backend.cancel(second.run_id)  # frees one GPU: the waiting run starts on it
    assert _devices(backend, third.run_id) == second_devices
    for run in (first, third):
        assert backend.cancel(run.run_id).phase == JobPhase.CANCELLED
    assert GpuAllocator(backend.root.parent / "gpus").held() == {}


def test_more_gpus_than_the_machine_has_fails_at_once(gpu_backend: LocalBackend) -> None:
    run = _gpu_run(4, "print('never')")
    gpu_backend.submit(run)
    status, _ = wait(gpu_backend, run.run_id)
    assert (status.phase, status.reason) == (JobPhase.FAILED, "Unschedulable")
    assert "4 GPU(s) (nvidia.com/gpu) requested, but this machine has 3" in status.message


def test_a_run_waiting_for_gpus_can_be_cancelled(gpu_backend: LocalBackend) -> None:
    holder, waiter = _gpu_run(3), _gpu_run(1)
    gpu_backend.submit(holder)
    _devices(gpu_backend, holder.run_id)
    gpu_backend.submit(waiter)
    _first(gpu_backend, waiter.run_id, "Unschedulable")
    assert gpu_backend.cancel(waiter.run_id).phase == JobPhase.CANCELLED
    assert log_text(gpu_backend, waiter.run_id) == ""
    gpu_backend.cancel(holder.run_id)


def test_a_stale_allocation_of_a_dead_process_is_reclaimed(tmp_path: Path) -> None:
    allocator = GpuAllocator(tmp_path / "gpus")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert allocator.allocate("gone", 2, ["0", "1"], dead.pid, 0.0).devices == ("0", "1")
    import psutil

    me = psutil.Process()
    granted = allocator.allocate("alive", 2, ["0", "1"], me.pid, me.create_time())
    assert granted.devices == ("0", "1")
    refused = allocator.allocate("other", 1, ["0", "1"], me.pid, me.create_time())
    assert refused.devices is None
    assert (refused.free, refused.total, refused.holders) == (0, 2, ("alive",))
    allocator.release("alive")
    assert allocator.held() == {}


def test_devices_are_detected_with_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)'\n"
        "echo 'GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)'\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert detect_gpus() == ["0", "1"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert detect_gpus() == []
