"""``kind="dask"`` on Kubernetes: the dask-kubernetes operator's resources next to the Job.

The backend creates the ``DaskCluster`` (and ``DaskAutoscaler``) core rendered, before the Job,
through the same seam (``CustomObjectsApi``); the operator runs scheduler and workers. A 404 on
creating one means the operator's CRDs are not installed: a :class:`SubmitError` that says so.
The workers (pods labelled ``dask.org/component=worker`` of the cluster) are the run's replicas
1, 2, ... in the order they were created; replica 0 is the Job's pod. Cancelling the run, or the
run ending while a backend follows it, deletes the cluster (the operator then removes its pods);
otherwise the owner reference to the Job removes it when the Job goes (TTL).
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from jupyter_mlres.backends.kubernetes.api import KubeApiProtocol
from jupyter_mlres.core.dask import ANNOTATION_CLUSTER, LABEL_CLUSTER, LABEL_COMPONENT
from jupyter_mlres.core.errors import BackendError, RunNotFound, SubmitError
from jupyter_mlres.core.runs import ReplicaStatus
from jupyter_mlres.core.status import interpret_pod

__all__ = ["DASK_KINDS", "cluster_of", "crd_missing", "delete_cluster", "worker_replicas"]

DASK_KINDS: Final = ("DaskCluster", "DaskAutoscaler")
Obj = dict[str, Any]


def crd_missing(kind: str, namespace: str, error: RunNotFound) -> SubmitError:
    return SubmitError(
        f"cannot create the {kind} of this dask run in namespace {namespace!r}: the cluster does not "
        "know the kind (HTTP 404) — the dask-kubernetes operator and its CRDs "
        "(daskclusters.kubernetes.dask.org, daskautoscalers.kubernetes.dask.org) are not installed. "
        "Ask the cluster admin to install the operator (helm chart 'dask-kubernetes-operator'), or "
        f"run this function on the local backend. ({error})"
    )


def cluster_of(job: Obj | None) -> str | None:
    """The ``DaskCluster`` name of a dask run's Job (None for other kinds)."""
    annotations = ((job or {}).get("metadata") or {}).get("annotations") or {}
    name = annotations.get(ANNOTATION_CLUSTER)
    return str(name) if name else None


def delete_cluster(api: KubeApiProtocol, namespace: str, name: str) -> list[str]:
    """Delete the autoscaler, then the cluster; what was deleted (already gone is fine)."""
    deleted: list[str] = []
    for kind in ("DaskAutoscaler", "DaskCluster"):
        with contextlib.suppress(RunNotFound):
            api.delete(kind, namespace, name, propagation="Background")
            deleted.append(kind)
    return deleted


def worker_replicas(api: KubeApiProtocol, namespace: str, name: str) -> list[ReplicaStatus]:
    """The cluster's worker pods as replicas 1, 2, ... (oldest first); none when unreadable."""
    try:
        pods, _ = api.list(
            "Pod", namespace, label_selector=f"{LABEL_CLUSTER}={name},{LABEL_COMPONENT}=worker"
        )
    except BackendError:
        return []
    pods.sort(key=lambda p: (str(p["metadata"].get("creationTimestamp") or ""), p["metadata"]["name"]))
    replicas = []
    for index, pod in enumerate(pods, start=1):
        status = interpret_pod(pod)
        message = f"dask worker {pod['metadata']['name']}" + (f": {status.message}" if status.message else "")
        replicas.append(ReplicaStatus(index, status.phase, status.reason, message, status.exit_code))
    return replicas
