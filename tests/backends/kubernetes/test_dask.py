"""kind="dask" on the emulator: the operator's custom resources created, shown, removed.

The emulator runs no dask operator: tests play it (worker pods with the operator's labels). Every
POSTed custom resource is also checked against the operator's CRD schema on teardown (rbac.py).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

import jupyter_mlres as mlres
from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.errors import SubmitError
from jupyter_mlres.core.runs import JobPhase, RenderedRun, RunId
from jupyter_mlres.core.settings import Settings

from .emulator import RunningEmulator
from .helpers import NS, Kube, now

CLUSTERS = "daskclusters"
AUTOSCALERS = "daskautoscalers"


def _dask_run(run_id: str, *, low: int = 1, high: int = 4) -> RenderedRun:
    fn = mlres.new_function("crunch", kind="dask", code="print(client)")
    fn.spec.min_replicas, fn.spec.max_replicas = low, high
    fn.with_limits(mem="2Gi", cpu=1)
    return fn.to_run(Settings(), run_id=run_id)


def _rendered(run: RenderedRun, kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(m for m in run.manifests if m["kind"] == kind))


def test_the_cluster_and_autoscaler_are_created_with_the_rendered_spec(
    backend: KubernetesBackend, cluster: RunningEmulator, kube: Kube
) -> None:
    run = _dask_run("d1")
    backend.submit(run)
    stored = cluster.emulator.stored(CLUSTERS, NS, "d1")
    scaler = cluster.emulator.stored(AUTOSCALERS, NS, "d1")
    assert stored is not None
    assert scaler is not None
    assert stored["spec"] == _rendered(run, "DaskCluster")["spec"]
    assert scaler["spec"] == {"cluster": "d1", "minimum": 1, "maximum": 4}
    worker = stored["spec"]["worker"]["spec"]["containers"][0]
    assert worker["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    # deleting the Job deletes them too (garbage collection through the owner reference)
    job = kube.job("d1")
    for obj in (stored, scaler):
        assert obj["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    # created before the Job, so the scheduler is on its way when the job's pod starts
    posts = [r.resource.plural for r in cluster.requests_matching("POST", "/namespaces/ns/")]
    assert posts.index(CLUSTERS) < posts.index("jobs")
    assert posts.index(AUTOSCALERS) < posts.index("jobs")


def test_a_fixed_number_of_workers_has_no_autoscaler(
    backend: KubernetesBackend, cluster: RunningEmulator, kube: Kube
) -> None:
    backend.submit(_dask_run("d2", low=3, high=3))
    stored = cluster.emulator.stored(CLUSTERS, NS, "d2")
    assert stored is not None
    assert stored["spec"]["worker"]["replicas"] == 3
    assert cluster.emulator.stored(AUTOSCALERS, NS, "d2") is None


def test_cancel_removes_the_cluster_and_the_autoscaler(
    backend: KubernetesBackend, cluster: RunningEmulator, kube: Kube
) -> None:
    backend.submit(_dask_run("d3"))
    status = backend.cancel(RunId("d3"))
    assert status.phase == JobPhase.CANCELLED
    assert cluster.emulator.stored("jobs", NS, "d3") is None
    assert cluster.emulator.stored(CLUSTERS, NS, "d3") is None
    assert cluster.emulator.stored(AUTOSCALERS, NS, "d3") is None


def test_cancel_from_a_fresh_backend_finds_the_cluster_through_the_job(
    make_backend: Any, cluster: RunningEmulator, kube: Kube
) -> None:
    make_backend().submit(_dask_run("d4"))
    make_backend().cancel(RunId("d4"))
    assert cluster.emulator.stored(CLUSTERS, NS, "d4") is None


def test_missing_operator_crds_are_a_clear_error_and_leave_nothing(
    backend: KubernetesBackend, cluster: RunningEmulator, kube: Kube
) -> None:
    cluster.emulator.fail(
        "POST",
        r"/apis/kubernetes\.dask\.org/v1/namespaces/ns/daskclusters",
        404,
        "the server could not find the requested resource",
        reason="NotFound",
    )
    with pytest.raises(SubmitError, match="dask-kubernetes operator and its CRDs") as err:
        backend.submit(_dask_run("d5"))
    assert "daskclusters.kubernetes.dask.org" in str(err.value)
    assert "local backend" in str(err.value)
    assert cluster.emulator.stored("configmaps", NS, "d5") is None  # rolled back
    assert cluster.emulator.stored("jobs", NS, "d5") is None  # never created


def test_workers_are_the_runs_replicas(
    backend: KubernetesBackend, cluster: RunningEmulator, kube: Kube
) -> None:
    backend.submit(_dask_run("d6"))
    pod = kube.create_pod("d6")
    kube.running(pod)
    for i, phase in enumerate(("Running", "Pending")):
        _operator_worker(kube, "d6", f"d6-default-worker-{i}", phase)
    _operator_pod(kube, "d6", "d6-scheduler", "scheduler", "Running")

    status = backend.status(RunId("d6"))
    assert [r.index for r in status.replicas] == [0, 1, 2]
    assert status.replicas[0].phase == JobPhase.RUNNING  # the job's own pod, not a worker
    assert [r.phase for r in status.replicas[1:]] == [JobPhase.RUNNING, JobPhase.PENDING]
    assert "d6-default-worker-0" in status.replicas[1].message


def _operator_worker(kube: Kube, cluster_name: str, name: str, phase: str) -> None:
    _operator_pod(kube, cluster_name, name, "worker", phase)


def _operator_pod(kube: Kube, cluster_name: str, name: str, component: str, phase: str) -> None:
    """A pod as the dask operator makes it: the cluster's labels, not the run's pod label."""
    stored = kube.em.stored(CLUSTERS, NS, cluster_name)
    assert stored is not None
    part = stored["spec"][component]
    labels = {
        **part["metadata"]["labels"],
        "dask.org/cluster-name": cluster_name,
        "dask.org/component": component,
    }
    assert "jupyter-mlres.io/run-id" not in labels
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "creationTimestamp": now()},
        "spec": part["spec"],
        "status": {"phase": phase},
    }
    kube.request("POST", f"/api/v1/namespaces/{NS}/pods", pod)
