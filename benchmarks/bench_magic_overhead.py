"""Overhead of ``%%mlrun`` on the local backend: a trivial cell watched to completion, against
starting and waiting for a bare ``python -c pass`` from the same process.

    python benchmarks/bench_magic_overhead.py [--repeat N]

Prints the means, the ratio (target <= 1.5x) and a breakdown: the backend alone (submit to the
terminal event, no magic) and what the magic adds on top (parse, capture, render, view, wait).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time

from _shell import make_shell

from jupyter_mlres.backends.registry import create_backend
from jupyter_mlres.kernel.session import new_run_id
from jupyter_mlres.sdk import new_function


def bare(repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return times


def magic(repeat: int) -> list[float]:
    shell, _magics, _settings = make_shell(view="text")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            run = shell.run_cell_magic("mlrun", "trivial", "pass\n")
        times.append(time.perf_counter() - start)
        assert str(run.state) == "Succeeded", run.logs()
    return times


def backend_alone(repeat: int) -> list[float]:
    _shell, _magics, settings = make_shell()
    backend = create_backend("local", settings)
    times = []
    for _ in range(repeat):
        rendered = new_function("trivial", code="pass\n").to_run(settings, run_id=new_run_id("trivial"))
        start = time.perf_counter()
        backend.submit(rendered)
        for _event in backend.events(rendered.run_id, follow=True):
            pass
        for _line in backend.logs(rendered.run_id, follow=True):
            pass
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    repeat = parser.parse_args().repeat
    b = statistics.mean(bare(repeat))
    m = statistics.mean(magic(repeat))
    k = statistics.mean(backend_alone(repeat))
    print(f"bare `python -c pass` subprocess : {b * 1000:8.1f} ms (mean of {repeat})")
    print(f"%%mlrun trivial cell, watched    : {m * 1000:8.1f} ms")
    print(f"ratio                            : {m / b:8.2f}x (target <= 1.5x)")
    print(f"  local backend alone (submit->done, logs drained): {k * 1000:8.1f} ms ({k / b:.2f}x bare)")
    print(f"  added by the magic (parse, capture, render, view, watch): {(m - k) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
