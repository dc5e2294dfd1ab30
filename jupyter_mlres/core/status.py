"""What a Kubernetes Job and its pods mean for a run, in words a user can act on. Pure.

Input is the wire form of the objects (camelCase dicts as the API server sends them); output is
core types. Reasons use Kubernetes words: ``Unschedulable``, ``ImagePullBackOff``,
``ErrImagePull``, ``OOMKilled``, ``Evicted``, ``Preempted``, ``DeadlineExceeded``,
``BackoffLimitExceeded``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jupyter_mlres.core.runs import JobPhase, ReplicaStatus

__all__ = [
    "COMPLETION_INDEX_KEY",
    "RESULT_LIMIT_BYTES",
    "JobOutcome",
    "ResultTooLarge",
    "interpret_job",
    "interpret_pod",
    "latest_pods_by_replica",
    "parse_result",
    "parse_time",
    "pod_is_done",
    "replica_index",
    "retries_preemption",
    "run_phase",
]

COMPLETION_INDEX_KEY = "batch.kubernetes.io/job-completion-index"
RESULT_LIMIT_BYTES = 4096
"""Kubernetes keeps at most 4 KiB of a container's termination message."""

PULL_REASONS = {"ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull"}
CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}

Obj = Mapping[str, Any]


def _get(obj: Obj | None, *path: str) -> Any:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp (``2026-11-29T23:00:00Z``, optional fraction) as an aware datetime."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def replica_index(pod: Obj) -> int:
    """The replica (completion index) a pod runs; 0 for a non-indexed Job."""
    for where in ("annotations", "labels"):
        value = _get(pod, "metadata", where, COMPLETION_INDEX_KEY)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return 0


def latest_pods_by_replica(pods: Iterable[Obj]) -> dict[int, Obj]:
    """The newest pod of each replica: a recreated pod (after preemption) replaces the old one."""
    latest: dict[int, Obj] = {}
    for pod in pods:
        index = replica_index(pod)
        current = latest.get(index)
        if current is None or _created_key(pod) >= _created_key(current):
            latest[index] = pod
    return dict(sorted(latest.items()))


def _created_key(pod: Obj) -> tuple[str, str]:
    return (str(_get(pod, "metadata", "creationTimestamp") or ""), str(_get(pod, "metadata", "name") or ""))


def _condition(obj: Obj, kind: str) -> Obj | None:
    for cond in _get(obj, "status", "conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == kind:
            return cond
    return None


def _container(pod: Obj, name: str | None = None) -> tuple[Obj, Obj]:
    """(spec container, container status) of the main container (the first, or ``name``)."""
    containers = _get(pod, "spec", "containers") or [{}]
    spec = next((c for c in containers if c.get("name") == name), containers[0]) if name else containers[0]
    statuses = _get(pod, "status", "containerStatuses") or []
    status = next((s for s in statuses if s.get("name") == spec.get("name")), statuses[0] if statuses else {})
    return spec, status


def retries_preemption(job: Obj | None) -> bool:
    """Whether the Job's podFailurePolicy ignores ``DisruptionTarget`` (preemptions are retried)."""
    for rule in _get(job, "spec", "podFailurePolicy", "rules") or ():
        if rule.get("action") == "Ignore" and any(
            p.get("type") == "DisruptionTarget" for p in rule.get("onPodConditions") or ()
        ):
            return True
    return False


def pod_is_done(pod: Obj) -> bool:
    return _get(pod, "status", "phase") in ("Succeeded", "Failed")


def interpret_pod(pod: Obj, *, preemption_retried: bool = False) -> ReplicaStatus:
    """One replica's phase with the reason and a message a user can act on."""
    index = replica_index(pod)
    phase_text = str(_get(pod, "status", "phase") or "Pending")
    spec, cstatus = _container(pod)
    image = cstatus.get("image") or spec.get("image") or "?"
    waiting = _get(cstatus, "state", "waiting") or {}
    terminated = _get(cstatus, "state", "terminated") or _get(cstatus, "lastState", "terminated") or {}
    exit_code = terminated.get("exitCode") if terminated else None

    disruption = _condition(pod, "DisruptionTarget")
    if disruption is not None and disruption.get("status") == "True":
        why = disruption.get("reason") or "preempted"
        detail = f" ({why}: {disruption.get('message')})" if disruption.get("message") else f" ({why})"
        if preemption_retried:
            return ReplicaStatus(
                index, JobPhase.PENDING, "Preempted", "preempted, rescheduling" + detail, exit_code
            )
        return ReplicaStatus(index, JobPhase.FAILED, "Preempted", "preempted" + detail, exit_code)

    if _get(pod, "status", "reason") == "Evicted":
        message = _get(pod, "status", "message") or "the node ran short of resources"
        return ReplicaStatus(index, JobPhase.FAILED, "Evicted", f"evicted: {message}", exit_code)

    if phase_text == "Pending":
        scheduled = _condition(pod, "PodScheduled")
        if scheduled is not None and scheduled.get("status") == "False":
            reason = scheduled.get("reason") or "Unschedulable"
            message = scheduled.get("message") or "waiting for a node"
            return ReplicaStatus(index, JobPhase.PENDING, reason, f"cannot be scheduled: {message}")
        wreason = waiting.get("reason")
        if wreason in PULL_REASONS:
            detail = f": {waiting['message']}" if waiting.get("message") else ""
            return ReplicaStatus(index, JobPhase.PENDING, wreason, f"cannot pull image {image!r}{detail}")
        if wreason in CONFIG_REASONS:
            return ReplicaStatus(index, JobPhase.PENDING, wreason, str(waiting.get("message") or wreason))
        if wreason:
            return ReplicaStatus(index, JobPhase.PENDING, wreason, str(waiting.get("message") or ""))
        return ReplicaStatus(index, JobPhase.PENDING, "Pending", "waiting to start")

    if phase_text == "Running":
        return ReplicaStatus(index, JobPhase.RUNNING, "Running", "")

    if phase_text == "Succeeded":
        return ReplicaStatus(
            index, JobPhase.SUCCEEDED, "Completed", "", exit_code if exit_code is not None else 0
        )

    if phase_text == "Failed":
        treason = terminated.get("reason") or ""
        if treason == "OOMKilled":
            limit = _get(spec, "resources", "limits", "memory")
            where = f" of {limit}" if limit else ""
            return ReplicaStatus(
                index,
                JobPhase.FAILED,
                "OOMKilled",
                f"out of memory: killed for exceeding its memory limit{where}; raise --memory",
                exit_code,
            )
        if treason == "DeadlineExceeded" or _get(pod, "status", "reason") == "DeadlineExceeded":
            return ReplicaStatus(
                index, JobPhase.FAILED, "DeadlineExceeded", "ran past its deadline", exit_code
            )
        message = f"exited with code {exit_code}" if exit_code is not None else "failed"
        if terminated.get("message") and treason not in ("", "Error", "Completed"):
            message += f": {terminated['message']}"
        return ReplicaStatus(index, JobPhase.FAILED, treason or "Error", message, exit_code)

    return ReplicaStatus(index, JobPhase.UNKNOWN, phase_text, "the node stopped reporting on this pod")


@dataclass(frozen=True)
class JobOutcome:
    """The Job's own verdict: ``phase`` is None while the Job is still active."""

    phase: JobPhase | None
    reason: str = ""
    message: str = ""
    finished: datetime | None = None


_FAILED_MESSAGES = {
    "BackoffLimitExceeded": "failed more often than its retry budget (backoffLimit) allows",
    "DeadlineExceeded": "ran past its activeDeadlineSeconds and was stopped",
    "PodFailurePolicy": "a pod failure matched the Job's podFailurePolicy",
}


def interpret_job(job: Obj) -> JobOutcome:
    """The Job's conditions decide a run's end (``Complete`` / ``Failed``)."""
    complete = _condition(job, "Complete")
    if complete is not None and complete.get("status") == "True":
        return JobOutcome(JobPhase.SUCCEEDED, "Completed", "", parse_time(complete.get("lastTransitionTime")))
    failed = _condition(job, "Failed")
    if failed is not None and failed.get("status") == "True":
        reason = str(failed.get("reason") or "Failed")
        message = _FAILED_MESSAGES.get(reason, "")
        if failed.get("message"):
            message = f"{message}: {failed['message']}" if message else str(failed["message"])
        return JobOutcome(JobPhase.FAILED, reason, message, parse_time(failed.get("lastTransitionTime")))
    return JobOutcome(None)


def run_phase(outcome: JobOutcome, replicas: Iterable[ReplicaStatus]) -> JobPhase:
    """The run's phase: the Job's verdict when it has one, else Running once any replica runs."""
    if outcome.phase is not None:
        return outcome.phase
    phases = {r.phase for r in replicas}
    if JobPhase.RUNNING in phases or JobPhase.SUCCEEDED in phases:
        return JobPhase.RUNNING
    return JobPhase.PENDING


class ResultTooLarge(ValueError):
    """The handler's return value did not fit the 4 KiB termination message."""


def parse_result(message: str | None) -> Any:
    """The handler's return value from the runner's termination message (None when absent).

    Kubernetes truncates termination messages to 4 KiB; a truncated (unparseable) message, or the
    runner's ``{"error": ...}`` (it refuses results over 4 KiB, as the local backend does), raises
    :class:`ResultTooLarge` with what to do.
    """
    if not message:
        return None
    try:
        payload = json.loads(message)
    except ValueError:
        raise ResultTooLarge(
            f"the result did not fit the {RESULT_LIMIT_BYTES // 1024} KiB Kubernetes keeps for a "
            "termination message; return a small value (e.g. a path or a summary) and write large "
            "results to a volume"
        ) from None
    if not isinstance(payload, Mapping):
        return payload
    if "error" in payload:
        # the runner's own verdict, e.g. "result too large: 9000 bytes > 4096 (...)"
        raise ResultTooLarge(str(payload["error"]))
    if "result" in payload:
        return payload["result"]
    if "result_repr" in payload:
        return payload["result_repr"]
    return None
