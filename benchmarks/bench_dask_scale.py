"""Time for a local ``kind="dask"`` run to scale from min to max workers under load, and back.

A dask function submits a burst of sleeping tasks (``--tasks`` x ``--task-seconds``) through the
local backend, exactly as a notebook cell would. From the run's events (their timestamps):

  start     submit -> the cluster's first workers are up (job start, LocalCluster, min workers)
  up        first worker up -> max workers up (adaptive scale-up under the burst)
  down      burst done -> back to min workers (adaptive scale-down once idle)

for each adaptive interval given (``--intervals``, ms). Wait count 2, target duration 200 ms.
Usage: python benchmarks/bench_dask_scale.py [--min 1] [--max 4] [--intervals 1000,100]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jupyter_mlres as mlres
from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.core.runs import JobPhase
from jupyter_mlres.core.settings import Settings

CODE = """
import time
def work(i):
    time.sleep({seconds})
    return i
t0 = time.time()
client.gather(client.map(work, range({tasks})))
print("burst-done", time.time(), flush=True)
deadline = time.time() + 120
while len(client.scheduler_info()["workers"]) > {minimum} and time.time() < deadline:
    time.sleep(0.05)
"""


def measure(
    minimum: int, maximum: int, interval_ms: int, tasks: int, seconds: float, root: str
) -> dict[str, float]:
    settings = Settings(
        local_run_root=root,
        local_gpu_devices=[],
        dask_adapt_interval_ms=interval_ms,
        dask_adapt_wait_count=2,
        dask_target_duration_ms=200,
    )
    fn = mlres.new_function(
        "bench", kind="dask", code=CODE.format(seconds=seconds, tasks=tasks, minimum=minimum)
    )
    fn.spec.min_replicas, fn.spec.max_replicas = minimum, maximum
    backend = LocalBackend(settings)
    run = fn.to_run(settings, run_id=f"bench-{uuid.uuid4().hex[:8]}")
    submitted = time.time()
    backend.submit(run)
    first_up = max_up = back_down = None
    for event in backend.events(run.run_id, follow=True):
        if event.reason != "Scaled":
            continue
        count = int(re.match(r"(\d+)", event.message).group(1))  # type: ignore[union-attr]
        at = event.time.timestamp()
        if first_up is None and count >= max(minimum, 1):
            first_up = at
        if max_up is None and count == maximum:
            max_up = at
        if max_up is not None and count == minimum:
            back_down = at
    status = backend.status(run.run_id)
    if status.phase != JobPhase.SUCCEEDED:
        raise SystemExit(f"run failed: {status.reason} {status.message}")
    burst_done = next(
        float(line.text.split()[1]) for line in backend.logs(run.run_id) if "burst-done" in line.text
    )
    if first_up is None or max_up is None or back_down is None:
        raise SystemExit(f"did not scale from {minimum} to {maximum} and back")
    return {"start": first_up - submitted, "up": max_up - first_up, "down": back_down - burst_done}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--min", type=int, default=1)
    parser.add_argument("--max", type=int, default=4)
    parser.add_argument("--intervals", default="1000,100")
    parser.add_argument("--tasks", type=int, default=64)
    parser.add_argument("--task-seconds", type=float, default=0.25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        print(f"workers {args.min} -> {args.max}, burst of {args.tasks} x {args.task_seconds}s tasks")
        print(f"{'interval':>10} {'start (s)':>10} {'min->max (s)':>13} {'max->min (s)':>13}")
        for interval in (int(i) for i in args.intervals.split(",")):
            figures = measure(args.min, args.max, interval, args.tasks, args.task_seconds, root)
            print(
                f"{interval:>8}ms {figures['start']:>10.2f} {figures['up']:>13.2f} {figures['down']:>13.2f}"
            )


if __name__ == "__main__":
    main()
