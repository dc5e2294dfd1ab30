"""Start-to-finish time of a trivial local run against a bare ``python -c pass`` subprocess.

Measures the backend's share of ``%%mlrun`` overhead: ``LocalBackend.submit`` of a one-line job,
then following its events until it is terminal (the warm start server forks the supervisor, which
forks the replica; the kernel is woken by the supervisor's pokes).
Usage: python benchmarks/bench_local_overhead.py [--repeat R]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.core.settings import Settings
from tests.backends.local.conftest import make_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    bare: list[float] = []
    local: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        backend = LocalBackend(Settings(local_run_root=str(Path(tmp) / "runs")))
        assert backend.prewarm(wait=30), "the warm start server did not start"
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            bare.append(time.perf_counter() - start)
            run = make_run("x = 1\n")
            start = time.perf_counter()
            backend.submit(run)
            for _event in backend.events(run.run_id, follow=True):
                pass
            local.append(time.perf_counter() - start)
    for name, times in (("bare python -c pass", bare), ("local run, trivial", local)):
        print(
            f"{name:<22}: median {statistics.median(times) * 1000:6.1f} ms  min {min(times) * 1000:6.1f} ms"
        )
    print(f"ratio (median): {statistics.median(local) / statistics.median(bare):.1f}x")


if __name__ == "__main__":
    main()
