"""kind="dask" on the local backend: a real ``distributed.LocalCluster`` that adapts with load.

Short adaptive intervals (settings) keep each test a few seconds; nothing asserts on timing.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace

import psutil
import pytest

import jupyter_mlres as mlres
from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.core.runs import JobEvent, JobPhase, RunId
from jupyter_mlres.core.settings import Settings

from .conftest import log_text, wait

pytest.importorskip("distributed")

BURST = """
import time

def slow(i):
    time.sleep(0.25)
    return i * i

futures = client.map(slow, range(48))
print("sum", sum(client.gather(futures)))
# Idle now: adaptive scaling retires workers down to the minimum.
deadline = time.time() + 60
while len(client.scheduler_info()["workers"]) > 1 and time.time() < deadline:
    time.sleep(0.05)
print("workers after the burst", len(client.scheduler_info()["workers"]))
"""


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return replace(settings, dask_adapt_interval_ms=100, dask_adapt_wait_count=2, dask_target_duration_ms=200)


def _workers(events: list[JobEvent]) -> list[int]:
    """The number of workers after each change, as the job view reports it."""
    counts = []
    for event in events:
        if event.reason == "Scaled":
            match = re.match(r"(\d+) worker", event.message)
            assert match, event.message
            counts.append(int(match.group(1)))
    return counts


def _submit(backend: LocalBackend, fn: mlres.Function, settings: Settings) -> RunId:
    run = fn.to_run(settings, run_id=f"{fn.name}-{uuid.uuid4().hex[:8]}")
    backend.submit(run)
    return run.run_id


def test_an_adaptive_cluster_scales_up_under_a_burst_and_back_down(fast_settings: Settings) -> None:
    backend = LocalBackend(fast_settings)
    fn = mlres.new_function("burst", kind="dask", code=BURST)
    fn.spec.min_replicas, fn.spec.max_replicas = 1, 3
    run_id = _submit(backend, fn, fast_settings)
    status, events = wait(backend, run_id)

    assert status.phase == JobPhase.SUCCEEDED, log_text(backend, run_id)
    assert "sum 35720" in log_text(backend, run_id)
    counts = _workers(events)
    assert max(counts) == 3, counts  # scaled up to the maximum under load
    assert all(1 <= c <= 3 for c in counts), counts  # never outside the bounds
    assert counts[-1] == 1, counts  # and back down to the minimum once idle
    assert "workers after the burst 1" in log_text(backend, run_id)
    # every worker that ever ran is a replica (1, 2, ...); the job itself is replica 0
    workers = [r for r in status.replicas if r.index > 0]
    assert len(workers) >= 3
    assert {r.phase for r in status.replicas} == {JobPhase.SUCCEEDED}
    assert any(r.reason == "Retired" for r in workers)
    scheduled = next(e for e in events if e.reason == "Scheduled")
    assert "LocalCluster of 1..3 worker process(es) (adaptive)" in scheduled.message


HANDLER = """
import json, os, sys, time

def inspect(client, label):
    info = client.scheduler_info()["workers"].values()
    print(label, "workers", len(info), "memory", sorted({w["memory_limit"] for w in info}), flush=True)
    # wait until the job view knows the workers too (the runner reports them every 0.2 s)
    path = os.environ["MLRES_DASK_STATUS_PATH"]
    while not (os.path.exists(path) and any(len(json.loads(l)["workers"]) == 2 for l in open(path))):
        time.sleep(0.05)
    print("pgid", os.getpgid(0), flush=True)
    time.sleep(300)
"""


def test_fixed_workers_get_the_memory_limit_and_go_with_a_cancel(fast_settings: Settings) -> None:
    backend = LocalBackend(fast_settings)
    fn = mlres.new_function("fixed", kind="dask", code=HANDLER, handler="inspect")
    fn.spec.replicas = 2
    fn.with_limits(mem="300Mi")
    run = fn.to_run(fast_settings, run_id=f"fixed-{uuid.uuid4().hex[:8]}", params={"label": "cluster"})
    backend.submit(run)
    pgid = None
    for line in backend.logs(run.run_id, follow=True):
        if line.text.startswith("pgid"):
            pgid = int(line.text.split()[1])
            break
    text = log_text(backend, run.run_id)
    assert f"cluster workers 2 memory [{300 * 2**20}]" in text
    assert pgid is not None
    assert _group(pgid), "the workers run in the job's process group"

    status = backend.cancel(run.run_id)
    assert status.phase == JobPhase.CANCELLED
    assert not _group(pgid), "cancel stops the job and every worker"
    assert {r.phase for r in status.replicas} == {JobPhase.CANCELLED}
    events = list(backend.events(run.run_id, follow=False))
    assert _workers(events)[0] == 2
    assert [e.reason for e in events].count("WorkerStarted") == 2


def _group(pgid: int) -> list[psutil.Process]:
    alive = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid != pgid and psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
                import os

                if os.getpgid(proc.pid) == pgid:
                    alive.append(proc)
        except (psutil.Error, ProcessLookupError):
            continue
    return alive


def test_the_plan_maps_the_cluster_to_the_local_machine(fast_settings: Settings, tmp_path: object) -> None:
    from pathlib import Path

    from jupyter_mlres.backends.local.plan import build_plan

    fn = mlres.new_function("p", kind="dask", code="pass")
    fn.spec.min_replicas, fn.spec.max_replicas = 0, 4
    fn.with_limits(mem="1Gi", cpu="1500m").with_scheduler_limits(mem="512Mi", cpu=1)
    run = fn.to_run(fast_settings)
    plan = build_plan(run, fast_settings, run_dir=Path(str(tmp_path)), python="python3", cwd=".")
    assert plan.dask_workers == [0, 4]
    assert plan.env["MLRES_DASK_WORKER_MEMORY"] == str(2**30)
    assert plan.env["MLRES_DASK_WORKER_THREADS"] == "2"
    assert "DASK_SCHEDULER_ADDRESS" not in plan.env
    # the whole tree: the job's 512Mi plus four workers' 1Gi
    assert plan.memory_limit == 512 * 2**20 + 4 * 2**30
    assert plan.cpu_limit is None  # workers are not pinned to the job's cores
    assert any("cpu limit 1" in item for item in plan.not_honoured)
    assert json.loads(run.files["job.json"])["dask"]["adapt_interval_ms"] == 100
