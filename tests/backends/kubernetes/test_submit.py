"""Submission: creation order, owner references, secrets, collisions, API errors mapped to ours."""

from __future__ import annotations

import json
import threading

import pytest

from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.errors import BackendUnavailable, RunNotFound, SubmitError
from jupyter_mlres.core.runs import JobPhase, RunId

from .emulator import RunningEmulator
from .helpers import NS, Kube, render_run, wait_for

CM_PATH = rf"/namespaces/{NS}/configmaps$"
JOB_PATH = rf"/namespaces/{NS}/jobs$"


def test_objects_are_created_in_order_and_owned_by_the_job(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    backend.submit(render_run("s1", replicas=2, secret="s3cr3t"))
    posts = [r.url.path.rsplit("/", 1)[-1] for r in cluster.requests_matching("POST", f"/namespaces/{NS}/")]
    assert posts == ["configmaps", "secrets", "services", "jobs"]
    uid = kube.job("s1")["metadata"]["uid"]
    for plural, name in (("configmaps", "s1"), ("secrets", "s1-v3io"), ("services", "s1")):
        obj = cluster.emulator.stored(plural, NS, name)
        assert obj is not None
        assert obj["metadata"]["ownerReferences"] == [
            {"apiVersion": "batch/v1", "kind": "Job", "name": "s1", "uid": uid}
        ]
    secret = cluster.emulator.stored("secrets", NS, "s1-v3io")
    assert secret is not None
    assert secret["stringData"] == {"accessKey": "s3cr3t"}
    for r in cluster.requests_matching("POST", f"/namespaces/{NS}/"):
        if not r.url.path.endswith("secrets"):
            assert "s3cr3t" not in r.text


def test_name_collision_never_replaces_the_existing_run(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    backend.submit(render_run("s2", code="print('first')\n"))
    with pytest.raises(SubmitError, match=r"ConfigMap named 's2' already exists.*left untouched"):
        backend.submit(render_run("s2", code="print('second')\n"))
    cm = cluster.emulator.stored("configmaps", NS, "s2")
    assert cm is not None
    assert cm["data"]["main.py"] == "print('first')\n"
    assert not list(cluster.requests_matching("DELETE", "/configmaps/s2"))


def test_job_collision_rolls_back_only_what_this_submission_created(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    kube.request("POST", f"/apis/batch/v1/namespaces/{NS}/jobs", render_run("s3").manifests[-1])
    with pytest.raises(SubmitError, match="Job named 's3' already exists"):
        backend.submit(render_run("s3"))
    assert cluster.emulator.stored("configmaps", NS, "s3") is None  # ours, removed
    assert cluster.emulator.stored("jobs", NS, "s3") is not None  # theirs, kept


def test_forbidden_names_the_verb_and_resource(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    cluster.emulator.fail(
        "POST",
        JOB_PATH,
        403,
        'jobs.batch is forbidden: User "system:serviceaccount:ns:jovyan" cannot create resource "jobs" in API group "batch"',
        reason="Forbidden",
    )
    with pytest.raises(SubmitError) as err:
        backend.submit(render_run("s4"))
    assert "may not create jobs.batch in namespace 'ns'" in str(err.value)
    assert "system:serviceaccount:ns:jovyan" in str(err.value)
    assert cluster.emulator.stored("configmaps", NS, "s4") is None  # rolled back


def test_quota_exceeded_names_the_quota(
    backend: KubernetesBackend, cluster: RunningEmulator, kube: Kube
) -> None:
    cluster.emulator.fail(
        "POST",
        JOB_PATH,
        403,
        'jobs "s5" is forbidden: exceeded quota: team-gpus, requested: requests.nvidia.com/gpu=4, used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4',
        reason="Forbidden",
    )
    with pytest.raises(
        SubmitError, match=r"ResourceQuota 'team-gpus' exceeded.*limited: requests.nvidia.com/gpu=4"
    ):
        backend.submit(render_run("s5"))


def test_invalid_shows_the_field(backend: KubernetesBackend, cluster: RunningEmulator, kube: Kube) -> None:
    causes = [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "Always": supported values: "OnFailure", "Never"',
            "field": "spec.template.spec.restartPolicy",
        }
    ]
    cluster.emulator.fail(
        "POST", JOB_PATH, 422, 'Job.batch "s6" is invalid', reason="Invalid", details={"causes": causes}
    )
    with pytest.raises(SubmitError, match=r"spec\.template\.spec\.restartPolicy: Invalid value"):
        backend.submit(render_run("s6"))


@pytest.mark.parametrize("code", [429, 500, 503])
def test_busy_or_failing_api_is_retried(
    backend: KubernetesBackend, cluster: RunningEmulator, kube: Kube, code: int
) -> None:
    cluster.emulator.fail("POST", CM_PATH, code, "try again", times=2, headers={"Retry-After": "0"})
    assert backend.submit(render_run("s7")).phase == JobPhase.PENDING
    assert len(list(cluster.requests_matching("POST", "/configmaps"))) == 3


def test_retries_are_bounded(backend: KubernetesBackend, cluster: RunningEmulator, kube: Kube) -> None:
    cluster.emulator.fail("POST", CM_PATH, 500, "etcd is down", times=100)
    with pytest.raises(BackendUnavailable, match=r"\(500\).*etcd is down"):
        backend.submit(render_run("s8"))
    assert len(list(cluster.requests_matching("POST", "/configmaps"))) == 5  # 1 + 4 retries


def test_cancel_deletes_the_job_with_propagation(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    backend.submit(render_run("s9"))
    pod = kube.create_pod("s9")
    kube.running(pod)
    status = backend.cancel(RunId("s9"))
    assert status.phase == JobPhase.CANCELLED
    deletes = list(cluster.requests_matching("DELETE", "/jobs/s9"))
    assert len(deletes) == 1
    propagation = deletes[0].params.get("propagationPolicy") or json.loads(deletes[0].text or "{}").get(
        "propagationPolicy"
    )
    assert propagation == "Background"
    # the garbage collector (emulated) removes what the Job owns
    assert cluster.emulator.stored("pods", NS, pod) is None
    assert cluster.emulator.stored("configmaps", NS, "s9") is None
    events = list(backend.events(RunId("s9"), follow=True))
    assert events[-1].phase == JobPhase.CANCELLED
    assert backend.cancel(RunId("s9")).phase == JobPhase.CANCELLED  # idempotent


def test_unknown_runs(backend: KubernetesBackend) -> None:
    with pytest.raises(RunNotFound):
        backend.status(RunId("nope"))
    with pytest.raises(RunNotFound):
        list(backend.events(RunId("nope")))
    with pytest.raises(RunNotFound):
        backend.cancel(RunId("nope"))


def test_reattach_from_a_fresh_backend(make_backend: object, kube: Kube, cluster: RunningEmulator) -> None:
    first = make_backend()  # type: ignore[operator]
    first.submit(render_run("s10"))
    first.submit(render_run("s11", function="other"))
    pod = kube.create_pod("s10")
    kube.running(pod)
    cluster.emulator.log(NS, pod, "before the kernel restarted")
    first.close()

    second = make_backend()  # type: ignore[operator]
    listed = second.list_runs()
    assert {s.run_id for s in listed} == {"s10", "s11"}
    assert {s.function for s in listed} == {"train", "other"}
    got: list[str] = []

    t = threading.Thread(
        target=lambda: got.extend(line.text for line in second.logs(RunId("s10"), follow=True))
    )
    t.start()
    wait_for(lambda: got == ["before the kernel restarted"], what="old lines")
    cluster.emulator.log(NS, pod, "after")
    kube.terminated(pod, 0, message='{"result": [1, 2]}')
    kube.complete("s10")
    t.join(20)
    assert got == ["before the kernel restarted", "after"]
    assert second.status(RunId("s10")).phase == JobPhase.SUCCEEDED
    assert second.result(RunId("s10")) == [1, 2]
    selectors = {
        r.params.get("labelSelector") for r in cluster.requests_matching("GET", f"/namespaces/{NS}/jobs")
    }
    assert "app.kubernetes.io/managed-by=jupyter-mlres" in selectors


def test_a_result_too_large_says_so(backend: KubernetesBackend, kube: Kube) -> None:
    backend.submit(render_run("s12"))
    pod = kube.create_pod("s12")
    kube.running(pod)
    kube.terminated(pod, 0, message='{"result": "' + "x" * 4080)  # truncated at 4 KiB
    kube.complete("s12")
    list(backend.events(RunId("s12"), follow=True))
    with pytest.raises(Exception, match="4 KiB"):
        backend.result(RunId("s12"))


def test_attach_to_a_finished_run_from_a_fresh_backend(
    make_backend: object, kube: Kube, cluster: RunningEmulator
) -> None:
    first = make_backend()  # type: ignore[operator]
    first.submit(render_run("s13"))
    pod = kube.create_pod("s13")
    kube.running(pod)
    cluster.emulator.log(NS, pod, "one", "two")
    kube.terminated(pod, 0, message='{"result": "done"}')
    kube.complete("s13")
    first.close()
    second = make_backend()  # type: ignore[operator]
    assert [x.text for x in second.logs(RunId("s13"))] == ["one", "two"]
    events = list(second.events(RunId("s13"), follow=True))
    assert events[0].reason == "Submitted"
    assert events[-1].phase == JobPhase.SUCCEEDED
    assert second.result(RunId("s13")) == "done"
