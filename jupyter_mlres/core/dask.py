"""The ``dask`` kind: a replica range means adaptive Dask workers (pure).

A dask run is the job itself (a batch Job running the cell with a connected Dask ``client``) plus
a Dask cluster for it. On Kubernetes the cluster is the dask-kubernetes operator's custom
resources: a ``DaskCluster`` (scheduler + workers, our pod settings in the worker spec) and, for a
range, a ``DaskAutoscaler`` (``kubernetes.dask.org/v1``); the operator runs them. Locally the
runner starts a ``distributed.LocalCluster`` and adapts it between the same bounds.

Resource mapping (README "Scaling with Dask"): the function's requests/limits/GPUs, volumes,
spot mode, priority and node selection apply to the *workers*; the scheduler and the job pod get
``spec.scheduler_resources`` (service defaults unless set) and the service's default placement.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.quantity import Quantity
from jupyter_mlres.core.settings import Settings

if TYPE_CHECKING:
    from jupyter_mlres.core.function import Function

__all__ = [
    "ANNOTATION_CLUSTER",
    "API_VERSION",
    "DASHBOARD_PORT",
    "LABEL_DASK_RUN",
    "SCHEDULER_PORT",
    "adapt_options",
    "cluster_manifests",
    "scheduler_address",
    "scheduler_pod",
    "worker_args",
    "worker_pod",
    "worker_range",
]

API_VERSION: Final = "kubernetes.dask.org/v1"
SCHEDULER_PORT: Final = 8786
DASHBOARD_PORT: Final = 8787
WORKER_DASHBOARD_PORT: Final = 8788
LABEL_CLUSTER: Final = "dask.org/cluster-name"
LABEL_COMPONENT: Final = "dask.org/component"
LABEL_DASK_RUN: Final = "jupyter-mlres.io/dask-run"
"""The run id on the custom resources and, through the operator, on the scheduler/worker pods.
They must not carry ``jupyter-mlres.io/run-id``: that label finds the *job's* pods."""
ANNOTATION_CLUSTER: Final = "jupyter-mlres.io/dask-cluster"
"""On the Job of a dask run: the name of its ``DaskCluster`` (deleted with the run)."""


def worker_range(fn: Function) -> tuple[int, int]:
    """(minimum, maximum) workers of a dask function; equal bounds mean a fixed number.

    ``replicas=N`` is N fixed workers; ``min_replicas``/``max_replicas`` a range (min defaults to
    0, max is required); both together must agree. Nothing set: one worker.
    """
    spec = fn.spec
    low, high, fixed = spec.min_replicas, spec.max_replicas, spec.replicas
    if low is None and high is None:
        return (fixed or 1, fixed or 1)
    if high is None:
        raise SpecError(
            "max_replicas",
            None,
            f"a maximum number of workers >= min_replicas = {low}",
            reason="a replica range needs both bounds (e.g. --replicas 1:8)",
        )
    low = 0 if low is None else low
    if low > high:
        raise SpecError("min_replicas", low, f"at most spec.max_replicas = {high}")
    if fixed is not None and (low, high) != (fixed, fixed):
        raise SpecError(
            "replicas",
            fixed,
            f"None, or {low} = min_replicas = max_replicas",
            reason=f"replicas={fixed} (fixed) contradicts the range {low}:{high}; set one or the other",
        )
    return (low, high)


def scheduler_address(run_id: str) -> str:
    """The operator's scheduler Service is ``<cluster>-scheduler`` in the run's namespace."""
    return f"tcp://{run_id}-scheduler:{SCHEDULER_PORT}"


def adapt_options(fn: Function, settings: Settings) -> dict[str, Any]:
    """The ``dask`` section of ``job.json`` (docs/internals.md): bounds and adaptive tuning."""
    minimum, maximum = worker_range(fn)
    return {
        "minimum": minimum,
        "maximum": maximum,
        "adapt_interval_ms": settings.dask_adapt_interval_ms,
        "adapt_wait_count": settings.dask_adapt_wait_count,
        "target_duration_ms": settings.dask_target_duration_ms,
    }


def _quantity_of(limits: Mapping[str, Any], key: str) -> Quantity | None:
    value = limits.get(key)
    return value if isinstance(value, Quantity) else None


def worker_args(cpu_limit: Quantity | None, memory_limit: Quantity | None) -> list[str]:
    """``dask worker`` arguments; threads and memory follow the workers' limits."""
    args = [
        "dask",
        "worker",
        "--name",
        "$(DASK_WORKER_NAME)",
        "--dashboard-address",
        str(WORKER_DASHBOARD_PORT),
    ]
    if cpu_limit is not None:
        args += ["--nthreads", str(max(1, math.ceil(cpu_limit.value)))]
    if memory_limit is not None:
        args += ["--memory-limit", str(int(memory_limit.value))]
    return args


def worker_pod(
    pod: Mapping[str, Any],
    image: str,
    user_env: list[dict[str, Any]],
    code_volume: str,
    limits: Mapping[str, Any],
) -> dict[str, Any]:
    """The workers' pod spec from the job's pod spec (resources, placement, volumes kept)."""
    result = {k: v for k, v in pod.items() if k not in ("restartPolicy", "subdomain")}
    main = pod["containers"][0]
    container: dict[str, Any] = {
        "name": "worker",
        "image": image,
        "args": worker_args(_quantity_of(limits, "cpu"), _quantity_of(limits, "memory")),
        "ports": [{"name": "http-dashboard", "containerPort": WORKER_DASHBOARD_PORT, "protocol": "TCP"}],
    }
    if user_env:
        container["env"] = user_env
    if "resources" in main:
        container["resources"] = main["resources"]
    mounts = [m for m in main.get("volumeMounts", []) if m["name"] != code_volume]
    if mounts:
        container["volumeMounts"] = mounts
    result["containers"] = [container]
    volumes = [v for v in pod.get("volumes", []) if v["name"] != code_volume]
    if volumes:
        result["volumes"] = volumes
    else:
        result.pop("volumes", None)
    return result


def scheduler_pod(pod: Mapping[str, Any], image: str) -> dict[str, Any]:
    """The scheduler's pod spec from a pod spec carrying its resources and placement."""
    result = {
        k: v for k, v in pod.items() if k not in ("restartPolicy", "subdomain", "volumes", "containers")
    }
    main = pod["containers"][0]
    probe = {"httpGet": {"port": "http-dashboard", "path": "/health"}}
    container: dict[str, Any] = {
        "name": "scheduler",
        "image": image,
        "args": ["dask", "scheduler"],
        "ports": [
            {"name": "tcp-comm", "containerPort": SCHEDULER_PORT, "protocol": "TCP"},
            {"name": "http-dashboard", "containerPort": DASHBOARD_PORT, "protocol": "TCP"},
        ],
        "readinessProbe": {**probe, "initialDelaySeconds": 5, "periodSeconds": 10},
        "livenessProbe": {**probe, "initialDelaySeconds": 15, "periodSeconds": 20},
    }
    if "resources" in main:
        container["resources"] = main["resources"]
    result["containers"] = [container]
    return result


def cluster_manifests(
    run_id: str,
    metadata_base: Mapping[str, Any],
    labels: Mapping[str, str],
    worker: Mapping[str, Any],
    scheduler: Mapping[str, Any],
    bounds: tuple[int, int],
) -> list[dict[str, Any]]:
    """``DaskCluster`` and, for a range, ``DaskAutoscaler`` (the operator's v1 resources)."""
    minimum, maximum = bounds
    labels = {k: v for k, v in labels.items() if k != "jupyter-mlres.io/run-id"}
    labels[LABEL_DASK_RUN] = run_id
    cluster: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DaskCluster",
        "metadata": {"name": run_id, **metadata_base, "labels": dict(labels)},
        "spec": {
            "worker": {
                "replicas": minimum,
                "metadata": {"labels": dict(labels)},
                "spec": dict(worker),
            },
            "scheduler": {
                "metadata": {"labels": dict(labels)},
                "spec": dict(scheduler),
                "service": {
                    "type": "ClusterIP",
                    "selector": {LABEL_CLUSTER: run_id, LABEL_COMPONENT: "scheduler"},
                    "ports": [
                        {
                            "name": "tcp-comm",
                            "protocol": "TCP",
                            "port": SCHEDULER_PORT,
                            "targetPort": "tcp-comm",
                        },
                        {
                            "name": "http-dashboard",
                            "protocol": "TCP",
                            "port": DASHBOARD_PORT,
                            "targetPort": "http-dashboard",
                        },
                    ],
                },
            },
        },
    }
    manifests = [cluster]
    if minimum != maximum:
        manifests.append(
            {
                "apiVersion": API_VERSION,
                "kind": "DaskAutoscaler",
                "metadata": {"name": run_id, **metadata_base, "labels": dict(labels)},
                "spec": {"cluster": run_id, "minimum": minimum, "maximum": maximum},
            }
        )
    return manifests
