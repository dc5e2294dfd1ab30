"""GPU check for the local backend, on a machine with NVIDIA GPUs.

Shows that a ``gpus=1`` job sees exactly one GPU (its ``CUDA_VISIBLE_DEVICES``, the CUDA driver's
device count inside the job, and ``nvidia-smi`` for that device), and that two concurrent
``gpus=1`` jobs get different GPUs, or, on a one-GPU machine, that the second waits
``Unschedulable`` until the first is done. Without GPUs it says so and exits 0.

Usage: python benchmarks/gpu_check.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.backends.local.gpus import detect_gpus
from jupyter_mlres.core.runs import JobPhase, RunId
from jupyter_mlres.core.settings import Settings
from tests.backends.local.conftest import make_run

JOB = """
import ctypes, os, shutil, subprocess, time
visible = os.environ.get("CUDA_VISIBLE_DEVICES")
print("CUDA_VISIBLE_DEVICES=" + repr(visible))
try:
    cuda = ctypes.CDLL("libcuda.so.1")
    count = ctypes.c_int()
    status = cuda.cuInit(0) or cuda.cuDeviceGetCount(ctypes.byref(count))
    print("CUDA driver device count:", count.value if status == 0 else f"error {status}")
except OSError as e:
    print("libcuda.so.1 not loadable:", e)
if shutil.which("nvidia-smi") and visible:
    out = subprocess.run(["nvidia-smi", "-L", "-i", visible], capture_output=True, text=True)
    print("nvidia-smi -i " + visible + ":", (out.stdout or out.stderr).strip())
time.sleep(HOLD)
"""


def _show(backend: LocalBackend, run_id: RunId, label: str) -> None:
    for event in backend.events(run_id, follow=True):
        print(f"  [{label}] event {event.reason}: {event.message}")
    for line in backend.logs(run_id):
        print(f"  [{label}] {line.text}")


def main() -> int:
    devices = detect_gpus()
    if not devices:
        where = "not installed" if shutil.which("nvidia-smi") is None else "lists no GPU"
        print(f"no GPUs on this machine (nvidia-smi {where}): nothing to check")
        return 0
    print(f"GPUs detected by nvidia-smi -L: {devices}")
    with tempfile.TemporaryDirectory() as tmp:
        backend = LocalBackend(Settings(local_run_root=str(Path(tmp) / "runs")))
        print("1) one job with gpus=1:")
        single = make_run(JOB.replace("HOLD", "0"), limits={"nvidia.com/gpu": "1"})
        backend.submit(single)
        _show(backend, single.run_id, "job")
        ok = backend.status(single.run_id).phase == JobPhase.SUCCEEDED
        counts = [line.text for line in backend.logs(single.run_id) if line.text.startswith("CUDA driver")]
        if counts:
            ok = ok and counts[0].endswith(": 1")
            print(f"the job sees exactly one GPU: {counts[0].endswith(': 1')} ({counts[0]})")

        print("2) two concurrent jobs with gpus=1 each:")
        first = make_run(JOB.replace("HOLD", "3"), limits={"nvidia.com/gpu": "1"})
        second = make_run(JOB.replace("HOLD", "0"), limits={"nvidia.com/gpu": "1"})
        backend.submit(first)
        for event in backend.events(first.run_id, follow=True):
            if event.phase == JobPhase.RUNNING or (event.phase and event.phase.is_terminal):
                break  # A holds its GPU before B asks for one
        backend.submit(second)
        _show(backend, first.run_id, "A")
        _show(backend, second.run_id, "B")
        seen = []
        for run in (first, second):
            lines = [line.text for line in backend.logs(run.run_id) if line.text.startswith("CUDA_VISIBLE")]
            seen.append(lines[0] if lines else "?")
        events_b = [e.reason for e in backend.events(second.run_id, follow=False)]
        if len(devices) >= 2:
            ok = ok and seen[0] != seen[1]
            print(f"A {seen[0]}, B {seen[1]}: {'different GPUs' if seen[0] != seen[1] else 'SHARED A GPU'}")
        else:
            waited = "Unschedulable" in events_b
            ok = ok and waited
            print(f"one GPU: B {'waited Unschedulable until A released it' if waited else 'DID NOT WAIT'}")
    print("GPU check:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
