"""Deleting Kubernetes runs against the API emulator: the Job (Background propagation) and the log
file kept for the run go; a run still going is refused and nothing is touched."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import jupyter_mlres as mlres
from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.errors import RunNotFinished, RunNotFound
from jupyter_mlres.core.runs import JobPhase, RunId
from jupyter_mlres.core.settings import Settings

from .emulator import RunningEmulator
from .helpers import NS, Kube, render_run, wait_for

MakeBackend = Callable[..., KubernetesBackend]


def _finish(backend: KubernetesBackend, kube: Kube, run_id: str, *lines: str) -> None:
    """Run ``run_id`` to success, its log followed (so the backend keeps it in a file)."""
    backend.submit(render_run(run_id))
    pod = kube.create_pod(run_id)
    kube.running(pod)
    kube.em.log(NS, pod, *lines)
    kube.terminated(pod, 0)
    kube.complete(run_id)
    assert [line.text for line in backend.logs(RunId(run_id), follow=True)] == list(lines)
    assert list(backend.events(RunId(run_id), follow=True))[-1].phase == JobPhase.SUCCEEDED


def _propagation(request: object) -> str:
    params = getattr(request, "params", {})
    body = json.loads(getattr(request, "text", "") or "{}")
    return str(params.get("propagationPolicy") or body.get("propagationPolicy"))


def test_a_finished_run_loses_its_job_and_its_kept_log(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    _finish(backend, kube, "d1", "hello")
    _finish(backend, kube, "d2", "keep")
    log = backend.log_path(RunId("d1"))
    assert log.is_file()

    backend.delete(RunId("d1"))

    [request] = cluster.requests_matching("DELETE", "/jobs/d1")
    assert _propagation(request) == "Background"
    assert kube.em.stored("jobs", NS, "d1") is None
    assert not log.exists()
    assert backend.log_path(RunId("d2")).is_file()
    assert [s.run_id for s in backend.list_runs()] == ["d2"]
    with pytest.raises(RunNotFound):
        backend.status(RunId("d1"))
    with pytest.raises(RunNotFound):
        backend.delete(RunId("d1"))


def test_a_session_that_never_followed_the_run_deletes_it_too(
    make_backend: MakeBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    first = make_backend()
    _finish(first, kube, "d3", "from another kernel")
    first.close()
    later = make_backend()  # same log directory, nothing tracked yet
    later.delete(RunId("d3"))
    assert kube.em.stored("jobs", NS, "d3") is None
    assert not later.log_path(RunId("d3")).exists()


def test_a_running_run_is_refused_and_nothing_is_deleted(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    backend.submit(render_run("d4"))
    pod = kube.create_pod("d4")
    kube.running(pod)
    kube.em.log(NS, pod, "working")
    wait_for(lambda: backend.status(RunId("d4")).phase == JobPhase.RUNNING, what="d4 running")
    with pytest.raises(RunNotFinished) as info:
        backend.delete(RunId("d4"))
    # the kernel's default backend is "local": the hint names this one
    assert str(info.value) == "run d4 is Running; cancel it first: %mlrun cancel d4 --backend kubernetes"
    assert not list(cluster.requests_matching("DELETE", "/"))
    assert kube.em.stored("jobs", NS, "d4") is not None
    assert backend.status(RunId("d4")).phase == JobPhase.RUNNING


def test_a_pending_run_is_refused_too(backend: KubernetesBackend, kube: Kube) -> None:
    backend.submit(render_run("d5"))
    with pytest.raises(RunNotFinished, match="run d5 is Pending"):
        backend.delete(RunId("d5"))
    assert kube.em.stored("jobs", NS, "d5") is not None


def test_an_unknown_run_is_run_not_found(backend: KubernetesBackend, cluster: RunningEmulator) -> None:
    with pytest.raises(RunNotFound):
        backend.delete(RunId("never-was"))
    assert not list(cluster.requests_matching("DELETE", "/"))


def test_a_run_whose_job_is_already_gone_still_loses_its_log(
    make_backend: MakeBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    first = make_backend()
    _finish(first, kube, "d6", "only the log is left")
    first.close()
    # the Job went meanwhile (its TTL ran out, or another session cancelled it)
    kube.request("DELETE", f"/apis/batch/v1/namespaces/{NS}/jobs/d6")
    later = make_backend()
    assert later.log_path(RunId("d6")).is_file()
    later.delete(RunId("d6"))
    assert not later.log_path(RunId("d6")).exists()
    with pytest.raises(RunNotFound):
        later.delete(RunId("d6"))


def test_a_finished_dask_run_loses_its_cluster_too(
    make_backend: MakeBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    fn = mlres.new_function("crunch", kind="dask", code="print(client)")
    fn.spec.min_replicas, fn.spec.max_replicas = 1, 3
    make_backend().submit(fn.to_run(Settings(), run_id="d7"))
    kube.fail("d7", "BackoffLimitExceeded")
    later = make_backend()  # nobody followed the run to its end, so its cluster is still there
    assert later.status(RunId("d7")).phase == JobPhase.FAILED
    later.delete(RunId("d7"))
    assert kube.em.stored("jobs", NS, "d7") is None
    for plural in ("daskclusters", "daskautoscalers"):
        assert kube.em.stored(plural, NS, "d7") is None
        assert list(cluster.requests_matching("DELETE", f"/{plural}/d7"))
