"""Pod and Job status -> what the user reads (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_mlres.core.runs import JobPhase
from jupyter_mlres.core.status import (
    ResultTooLarge,
    interpret_job,
    interpret_pod,
    latest_pods_by_replica,
    parse_result,
    retries_preemption,
    run_phase,
)


def pod(
    status: dict[str, Any],
    *,
    index: int | None = None,
    memory: str | None = "512Mi",
    name: str = "p",
    created: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    resources = {"limits": {"memory": memory}} if memory else {}
    meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if index is not None:
        meta["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
    return {
        "metadata": meta,
        "spec": {"containers": [{"name": "main", "image": "img:1", "resources": resources}]},
        "status": status,
    }


def terminated(exit_code: int, reason: str = "", message: str = "") -> dict[str, Any]:
    return {
        "containerStatuses": [
            {
                "name": "main",
                "state": {"terminated": {"exitCode": exit_code, "reason": reason, "message": message}},
            }
        ]
    }


def test_unschedulable_carries_the_schedulers_message() -> None:
    msg = "0/5 nodes are available: 5 Insufficient nvidia.com/gpu."
    r = interpret_pod(
        pod(
            {
                "phase": "Pending",
                "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg}
                ],
            }
        )
    )
    assert (r.phase, r.reason) == (JobPhase.PENDING, "Unschedulable")
    assert msg in r.message


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull"])
def test_image_pull_problems_name_the_image(reason: str) -> None:
    status = {
        "phase": "Pending",
        "containerStatuses": [
            {
                "name": "main",
                "image": "repo/missing:2",
                "state": {"waiting": {"reason": reason, "message": "not found"}},
            }
        ],
    }
    r = interpret_pod(pod(status))
    assert r.reason == reason
    assert "'repo/missing:2'" in r.message
    assert "not found" in r.message


def test_oomkilled_names_the_limit() -> None:
    r = interpret_pod(pod({"phase": "Failed", **terminated(137, "OOMKilled")}, memory="256Mi"))
    assert (r.phase, r.reason, r.exit_code) == (JobPhase.FAILED, "OOMKilled", 137)
    assert "256Mi" in r.message


def test_evicted() -> None:
    r = interpret_pod(
        pod({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."})
    )
    assert (r.phase, r.reason) == (JobPhase.FAILED, "Evicted")
    assert "low on resource" in r.message


def test_preempted_is_rescheduling_when_the_job_retries_it() -> None:
    status = {
        "phase": "Failed",
        "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}],
    }
    retried = interpret_pod(pod(status), preemption_retried=True)
    assert (retried.phase, retried.reason) == (JobPhase.PENDING, "Preempted")
    assert retried.message.startswith("preempted, rescheduling")
    final = interpret_pod(pod(status), preemption_retried=False)
    assert (final.phase, final.reason) == (JobPhase.FAILED, "Preempted")


def test_exit_code_and_success() -> None:
    assert interpret_pod(pod({"phase": "Failed", **terminated(3, "Error")})).message == "exited with code 3"
    ok = interpret_pod(pod({"phase": "Succeeded", **terminated(0, "Completed")}))
    assert (ok.phase, ok.exit_code) == (JobPhase.SUCCEEDED, 0)
    assert interpret_pod(pod({"phase": "Running"})).phase == JobPhase.RUNNING


@pytest.mark.parametrize(
    ("reason", "words"),
    [("BackoffLimitExceeded", "retry budget"), ("DeadlineExceeded", "activeDeadlineSeconds")],
)
def test_job_conditions_decide_the_end(reason: str, words: str) -> None:
    out = interpret_job({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": reason}]}})
    assert (out.phase, out.reason) == (JobPhase.FAILED, reason)
    assert words in out.message
    done = interpret_job({"status": {"conditions": [{"type": "Complete", "status": "True"}]}})
    assert done.phase == JobPhase.SUCCEEDED
    assert interpret_job({"status": {"active": 1}}).phase is None


def test_run_phase_waits_for_the_job() -> None:
    running = interpret_pod(pod({"phase": "Running"}))
    # a replica that succeeded does not end the run: the Job's conditions do
    assert run_phase(interpret_job({}), [running]) == JobPhase.RUNNING
    assert run_phase(interpret_job({}), []) == JobPhase.PENDING


def test_latest_pod_per_replica_replaces_a_preempted_one() -> None:
    old = pod({}, index=1, name="a", created="2026-01-01T00:00:00Z")
    new = pod({}, index=1, name="b", created="2026-01-01T00:01:00Z")
    zero = pod({}, index=0, name="c")
    assert {i: p["metadata"]["name"] for i, p in latest_pods_by_replica([new, old, zero]).items()} == {
        0: "c",
        1: "b",
    }


def test_retries_preemption_reads_the_pod_failure_policy() -> None:
    job = {
        "spec": {
            "podFailurePolicy": {
                "rules": [
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
                ]
            }
        }
    }
    assert retries_preemption(job)
    assert not retries_preemption({"spec": {}})


def test_results_from_the_termination_message() -> None:
    assert parse_result('{"result": {"acc": 0.9}}') == {"acc": 0.9}
    assert parse_result('{"result_repr": "<object>"}') == "<object>"
    assert parse_result("") is None
    with pytest.raises(ResultTooLarge, match="4 KiB"):
        parse_result('{"result": "' + "x" * 5000)  # truncated by Kubernetes
    with pytest.raises(ResultTooLarge, match="5000 bytes > 4096"):
        parse_result('{"error": "result too large: 5000 bytes > 4096 (write large results to a volume)"}')
