"""Start a run's replicas. Standard library only, and no jupyter_mlres imports.

The supervisor's boot code executes this file by path *before* importing jupyter_mlres (which
takes several times as long as starting Python), so a short job is already running while the
supervisor loads. The supervisor imports it normally when it starts the replicas itself (after
waiting for GPUs or linking volumes). ``plan`` is plan.json as a dict (see plan.py's ``Plan``).
"""

from __future__ import annotations

import math
import os
import subprocess
from typing import Any

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMEXPR_MAX_THREADS",
    "NUMBA_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "POLARS_MAX_THREADS",
)
"""Thread-pool sizes set to the CPU limit (unless the job sets them itself)."""

_JUPYTER_ONLY_ENV = ("JPY_", "KERNEL_", "IPY_")


def can_start_at_once(plan: dict[str, Any]) -> bool:
    """True when nothing has to happen before the replicas start (no GPUs, no volumes)."""
    return not plan["gpus"] and not any(m["host_path"] for m in plan["mounts"])


def cpu_count_for(limit: float) -> int:
    """Cores a CPU limit stands for: ``1.5`` -> 2, ``250m`` -> 1."""
    return max(1, math.ceil(limit - 1e-9))


def available_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))  # pragma: no cover - not Linux


def cores_for(index: int, limit: float | None, cpus: list[int]) -> list[int] | None:
    """Cores for replica ``index``: ceil(limit) of them, replicas spread round-robin."""
    if limit is None or not hasattr(os, "sched_setaffinity"):
        return None
    wanted = cpu_count_for(limit)
    if wanted >= len(cpus):
        return None
    start = (index * wanted) % len(cpus)
    return [cpus[(start + i) % len(cpus)] for i in range(wanted)]


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def base_env(plan: dict[str, Any], devices: list[str], mount_env: dict[str, str]) -> dict[str, str]:
    """The environment every replica shares: the kernel's (minus Jupyter's own) + the job's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_JUPYTER_ONLY_ENV) and not (k == "MPLBACKEND" and v.startswith("module://"))
    }
    env.update(mount_env)
    if plan["cpu_limit"] is not None:
        threads = str(min(cpu_count_for(plan["cpu_limit"]), len(available_cpus())))
        for name in THREAD_ENV_VARS:
            env[name] = threads
    env["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    env.update(plan["env"])  # the job's own env wins
    return env


def start_replicas(
    run_dir: str, plan: dict[str, Any], devices: list[str], mount_env: dict[str, str]
) -> tuple[list[subprocess.Popen[bytes]], dict[str, str]]:
    """Start every replica (own session, stdout/stderr piped); the processes and the shared env
    plus ``MASTER_PORT`` when there are several replicas."""
    env = base_env(plan, devices, mount_env)
    world = int(plan["replicas"])
    shared = dict(env)
    if world > 1:
        shared["MASTER_PORT"] = str(free_port())
    cpus = available_cpus()
    runner = os.path.join(run_dir, "code", "mlres_runner.py")
    cwd = plan["cwd"] if os.path.isdir(plan["cwd"]) else run_dir
    procs: list[subprocess.Popen[bytes]] = []
    for index in range(world):
        replica_env = dict(env)
        result = "result.json" if index == 0 else f"result-{index}.json"
        replica_env["MLRES_RESULT_PATH"] = os.path.join(run_dir, result)
        for name in plan["rank_env"]:
            replica_env[name] = str(index)
        for name in plan["pod_name_env"]:
            replica_env[name] = f"{plan['run_id']}-{index}"
        if world > 1:
            replica_env.update(
                RANK=str(index),
                JOB_COMPLETION_INDEX=str(index),
                WORLD_SIZE=str(world),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=shared["MASTER_PORT"],
            )
        cores = cores_for(index, plan["cpu_limit"], cpus)
        procs.append(
            subprocess.Popen(
                [plan["python"], runner],
                cwd=cwd,
                env=replica_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                # Pinned before the runner starts, so every thread it makes inherits the cores.
                preexec_fn=(lambda c=cores: os.sched_setaffinity(0, c)) if cores else None,
            )
        )
    return procs, shared
