"""Status through one watch per kind, with every reason a user can act on (over HTTP)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.runs import JobEvent, JobPhase, RunId

from .emulator import RunningEmulator
from .helpers import NS, Kube, render_run, wait_for


def events_until(
    backend: KubernetesBackend, run_id: str, predicate: Callable[[JobEvent], bool]
) -> list[JobEvent]:
    seen: list[JobEvent] = []
    for e in backend.events(RunId(run_id), follow=True):
        seen.append(e)
        if predicate(e):
            return seen
    raise AssertionError(f"run ended without the expected event: {seen}")


def test_unschedulable_shows_the_schedulers_message(backend: KubernetesBackend, kube: Kube) -> None:
    backend.submit(render_run("r1"))
    pod = kube.create_pod("r1")
    kube.unschedulable(pod, "0/5 nodes are available: 5 Insufficient nvidia.com/gpu.")
    seen = events_until(backend, "r1", lambda e: e.reason == "Unschedulable")
    assert "Insufficient nvidia.com/gpu" in seen[-1].message
    assert seen[-1].replica == 0
    assert seen[-1].warning
    assert backend.status(RunId("r1")).reason == "Unschedulable"


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull"])
def test_image_pull_failures_name_the_image(backend: KubernetesBackend, kube: Kube, reason: str) -> None:
    backend.submit(render_run("r2"))
    pod = kube.create_pod("r2")
    kube.waiting(pod, reason, "manifest unknown", image="registry.example/missing:1")
    seen = events_until(backend, "r2", lambda e: e.reason == reason)
    assert "registry.example/missing:1" in seen[-1].message


def test_oomkilled_names_the_limit_and_fails_the_run(backend: KubernetesBackend, kube: Kube) -> None:
    backend.submit(render_run("r3", resources={"requests": {"memory": "64Mi"}, "limits": {"memory": "64Mi"}}))
    pod = kube.create_pod("r3")
    kube.running(pod)
    kube.terminated(pod, 137, reason="OOMKilled")
    kube.fail("r3", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    seen = list(backend.events(RunId("r3"), follow=True))
    oom = next(e for e in seen if e.reason == "OOMKilled")
    assert "64Mi" in oom.message
    assert seen[-1].phase == JobPhase.FAILED
    assert seen[-1].reason == "BackoffLimitExceeded"
    assert "OOMKilled" in seen[-1].message  # the run's failure says which replica failed and why


def test_evicted(backend: KubernetesBackend, kube: Kube) -> None:
    backend.submit(render_run("r4"))
    pod = kube.create_pod("r4")
    kube.running(pod)
    kube.terminated(pod, 137, pod_reason="Evicted", pod_message="The node was low on resource: memory.")
    seen = events_until(backend, "r4", lambda e: e.reason == "Evicted")
    assert "low on resource" in seen[-1].message


def test_preempted_pod_is_rescheduled_and_its_replacement_followed(
    backend: KubernetesBackend, kube: Kube
) -> None:
    backend.submit(render_run("r5", preemption_retry=True))
    first = kube.create_pod("r5", suffix="aaaaa")
    kube.running(first)
    kube.em.log(NS, first, "epoch 1")
    preempted = [
        {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "PreemptionByScheduler",
            "message": "preempted by a higher-priority pod",
        }
    ]
    kube.terminated(first, 143, conditions=preempted)
    seen = events_until(backend, "r5", lambda e: e.reason == "Preempted")
    assert seen[-1].message.startswith("preempted, rescheduling")
    second = kube.create_pod("r5", suffix="bbbbb")  # the Job controller's replacement, late
    kube.running(second)
    kube.em.log(NS, second, "epoch 1 again")
    kube.terminated(second, 0, message='{"result": "ok"}')
    kube.complete("r5")
    # both pods' logs, each line once (two pods' streams have no order between them)
    assert sorted(line.text for line in backend.logs(RunId("r5"), follow=True)) == [
        "epoch 1",
        "epoch 1 again",
    ]
    assert backend.status(RunId("r5")).phase == JobPhase.SUCCEEDED
    assert backend.result(RunId("r5")) == "ok"


def test_deadline_exceeded(backend: KubernetesBackend, kube: Kube) -> None:
    backend.submit(render_run("r6"))
    pod = kube.create_pod("r6")
    kube.running(pod)
    kube.fail("r6", "DeadlineExceeded", "Job was active longer than specified deadline")
    seen = list(backend.events(RunId("r6"), follow=True))
    assert (seen[-1].phase, seen[-1].reason) == (JobPhase.FAILED, "DeadlineExceeded")
    assert "activeDeadlineSeconds" in seen[-1].message


def test_watch_resumes_from_the_last_resource_version_after_a_drop(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    backend.submit(render_run("r7"))
    pod = kube.create_pod("r7")
    events_until(backend, "r7", lambda e: e.replica == 0)
    wait_for(lambda: cluster.emulator.open_watches >= 2, what="both watches open")
    before = len(list(cluster.requests_matching("GET", f"/namespaces/{NS}/pods")))
    cluster.emulator.drop_watches()
    kube.running(pod)  # happens while no watch is open
    events_until(backend, "r7", lambda e: e.phase == JobPhase.RUNNING and e.replica is None)
    pod_watches = [
        r
        for r in cluster.requests_matching("GET", f"/namespaces/{NS}/pods")
        if r.params.get("watch") == "true"
    ]
    assert len(pod_watches) >= 2
    assert pod_watches[-1].params.get("resourceVersion") not in (None, "", "0")
    relists = [
        r
        for r in list(cluster.requests_matching("GET", f"/namespaces/{NS}/pods"))[before:]
        if r.params.get("watch") != "true" and r.url.path.endswith("/pods")  # not pods/<name>/log
    ]
    assert relists == []  # resumed, not re-listed
    assert all(r.params.get("labelSelector") == "jupyter-mlres.io/run-id=r7" for r in pod_watches)


def test_watch_relists_on_410_gone(backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator) -> None:
    backend.submit(render_run("r8"))
    pod = kube.create_pod("r8")
    events_until(backend, "r8", lambda e: e.replica == 0)
    wait_for(lambda: cluster.emulator.open_watches >= 2, what="both watches open")
    kube.running(pod)
    events_until(backend, "r8", lambda e: e.phase == JobPhase.RUNNING and e.replica is None)
    kube.add_node("unrelated")  # a change the run's watches do not see: their resourceVersion is now old
    cluster.emulator.compact()  # ... and older than what the server still remembers
    cluster.emulator.drop_watches()
    kube.terminated(pod, 0)

    def pod_lists() -> list[object]:
        return [
            r
            for r in cluster.requests_matching("GET", f"/namespaces/{NS}/pods")
            if r.params.get("watch") != "true" and r.url.path.endswith("/pods")
        ]

    # the resumed watch gets ERROR 410 Gone and the tracker lists again (the initial list + 1)
    wait_for(lambda: len(pod_lists()) >= 2, what="a re-list after 410")
    assert cluster.emulator.gone_sent >= 1
    wait_for(
        lambda: backend.status(RunId("r8")).replicas[0].phase == JobPhase.SUCCEEDED,
        what="state from the re-list",
    )
    kube.complete("r8")
    seen = list(backend.events(RunId("r8"), follow=True))
    assert seen[-1].phase == JobPhase.SUCCEEDED


def test_job_deleted_elsewhere_ends_the_run(backend: KubernetesBackend, kube: Kube) -> None:
    backend.submit(render_run("r9"))
    kube.request("DELETE", f"/apis/batch/v1/namespaces/{NS}/jobs/r9")
    seen = list(backend.events(RunId("r9"), follow=True))
    assert (seen[-1].phase, seen[-1].reason) == (JobPhase.CANCELLED, "Deleted")


def test_two_replicas_have_their_own_phase(backend: KubernetesBackend, kube: Kube) -> None:
    backend.submit(render_run("r10", replicas=2))
    assert kube.em.stored("services", NS, "r10") is not None
    p0, p1 = kube.create_pod("r10", 0), kube.create_pod("r10", 1)
    kube.running(p0)
    kube.unschedulable(p1, "0/1 nodes are available: 1 Insufficient cpu.")
    wait_for(
        lambda: (
            [(r.phase, r.reason) for r in backend.status(RunId("r10")).replicas]
            == [(JobPhase.RUNNING, "Running"), (JobPhase.PENDING, "Unschedulable")]
        ),
        what="per-replica phases",
    )
    assert "Insufficient cpu" in backend.status(RunId("r10")).replicas[1].message
