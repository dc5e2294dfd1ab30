"""The job view under a flood: a job printing 1,000,000 lines, watched by the widget view.

    python benchmarks/bench_flood.py [--lines N]

Counts every comm message the view's widgets would send to the front end (a recording comm in
place of the kernel's), and reports messages/s, bytes/s, the largest message, the kernel's RSS
growth, and that every line reached the full log in order. Jupyter's iopub limits are about
1000 messages/s and 1 MB/s.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import comm
import psutil
from _shell import make_shell
from comm.base_comm import BaseComm

SENT: list[int] = []


class RecordingComm(BaseComm):
    def publish_msg(
        self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
    ) -> None:
        SENT.append(len(json.dumps(data or {}, default=str)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    lines = parser.parse_args().lines
    comm.create_comm = lambda *a, **k: RecordingComm(*a, **k)
    import jupyter_mlres.kernel.runcell as runcell

    runcell.show = lambda obj: None  # no front end to display to; the comm still records
    shell, _magics, _settings = make_shell(view="widget")
    process = psutil.Process()
    rss_before = process.memory_info().rss
    peak = rss_before
    start = time.perf_counter()
    run = shell.run_cell_magic("mlrun", "flood --detach", f"for i in range({lines}):\n    print(i)\n")
    while not run._watcher.done.wait(0.2):
        peak = max(peak, process.memory_info().rss)
    elapsed = time.perf_counter() - start
    peak = max(peak, process.memory_info().rss)

    start_check = time.perf_counter()
    expected = 0
    for line in run._backend.logs(run.name, follow=False):
        if int(line.text) != expected:
            raise SystemExit(f"full log out of order at line {expected}: {line.text!r}")
        expected += 1
    check = time.perf_counter() - start_check

    print(f"job printed {lines:,} lines; state {run.state}; full log has {expected:,} lines, in order")
    print(f"watched for {elapsed:.1f} s ({lines / elapsed:,.0f} lines/s end to end)")
    print(f"view messages : {len(SENT)} in all, {len(SENT) / elapsed:.1f}/s (iopub limit ~1000/s)")
    print(
        f"view bytes    : {sum(SENT):,} in all, {sum(SENT) / elapsed / 1024:.1f} KiB/s (iopub limit ~1 MB/s)"
    )
    print(f"largest message: {max(SENT):,} bytes")
    print(f"kernel RSS growth: peak {(peak - rss_before) / 2**20:.1f} MiB")
    print(f"(reading the full log back took {check:.1f} s)")


if __name__ == "__main__":
    main()
