"""Overhead of ``%%mlrun`` on the local backend: a trivial cell watched to completion, against
starting and waiting for a bare ``python -c pass`` from the same process.

    python benchmarks/bench_magic_overhead.py [--repeat N]

Prints medians and means, the ratio (target <= 1.5x) and a breakdown: the backend alone (submit
to the terminal event, logs drained, no magic) and what the magic adds on top (parse, capture,
render, view, wait). The three are measured interleaved, one of each per round, so that a load
that comes and goes on a shared machine weighs on them alike. Runs start from the warm start
server (the default; ``%load_ext`` starts it, and the benchmark waits until it answers); the same
cell with ``local_warm_start=False`` (a new interpreter per run) is printed for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from _shell import make_shell

from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.kernel.session import new_run_id
from jupyter_mlres.sdk import new_function


def bare() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def magic_cell(warm: bool) -> Callable[[], None]:
    shell, _magics, settings = make_shell(view="text", local_warm_start=warm)
    if warm:
        assert LocalBackend(settings).prewarm(wait=30), "the warm start server did not start"

    def once() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            run = shell.run_cell_magic("mlrun", "trivial", "pass\n")
        assert str(run.state) == "Succeeded", run.logs()

    return once


def backend_alone() -> Callable[[], None]:
    _shell, _magics, settings = make_shell()
    backend = LocalBackend(settings)
    assert backend.prewarm(wait=30), "the warm start server did not start"

    def once() -> None:
        rendered = new_function("trivial", code="pass\n").to_run(settings, run_id=new_run_id("trivial"))
        backend.submit(rendered)
        for _event in backend.events(rendered.run_id, follow=True):
            pass
        for _line in backend.logs(rendered.run_id, follow=True):
            pass

    return once


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    repeat = parser.parse_args().repeat
    contenders = {"bare": bare, "magic": magic_cell(warm=True), "backend": backend_alone()}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, action in contenders.items():
            times[name].append(timed(action))
    cold_cell = magic_cell(warm=False)
    cold = [timed(cold_cell) for _ in range(max(3, repeat // 5))]

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:6.1f} ms, mean {statistics.mean(values) * 1000:6.1f} ms"

    b, m, k = (statistics.median(times[n]) for n in ("bare", "magic", "backend"))
    print(f"bare `python -c pass` subprocess : {ms(times['bare'])} ({repeat} rounds, interleaved)")
    print(f"%%mlrun trivial cell, watched    : {ms(times['magic'])}")
    print(f"ratio (medians)                  : {m / b:6.2f}x (target <= 1.5x)")
    mean_ratio = statistics.mean(times["magic"]) / statistics.mean(times["bare"])
    print(f"ratio (means)                    : {mean_ratio:6.2f}x")
    print(f"  local backend alone (submit->done, logs drained): {ms(times['backend'])} ({k / b:.2f}x bare)")
    print(f"  added by the magic (parse, capture, render, view, watch): {(m - k) * 1000:6.1f} ms (medians)")
    print(
        f"cold path, a new interpreter per run (local_warm_start=False): {ms(cold)} ({statistics.median(cold) / b:.2f}x bare)"
    )


if __name__ == "__main__":
    main()
