"""Following one run: a watch over its pods (by label) and one over its Job, turned into events.

Each watch lists once, then watches from the list's resourceVersion; when the server ends the
stream (timeout, dropped connection) it resumes from the last resourceVersion it saw, and on 410
Gone it re-lists (objects missing from the new list count as deleted). Nothing polls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from jupyter_mlres.backends.kubernetes.api import KubeApiProtocol, Stream, WatchGone
from jupyter_mlres.core.errors import BackendError, RunNotFound
from jupyter_mlres.core.runs import JobEvent, JobPhase, ReplicaStatus, RunId, RunStatus
from jupyter_mlres.core.status import (
    interpret_job,
    interpret_pod,
    latest_pods_by_replica,
    parse_time,
    retries_preemption,
    run_phase,
)

__all__ = ["LABEL_MANAGED", "LABEL_NAME", "LABEL_RUN", "RunTracker", "status_from_objects"]

LABEL_MANAGED = "app.kubernetes.io/managed-by"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_RUN = "jupyter-mlres.io/run-id"
MANAGED_BY = "jupyter-mlres"
WARNING_REASONS = {
    "Unschedulable",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "OOMKilled",
    "Evicted",
    "Preempted",
    "DeadlineExceeded",
    "BackoffLimitExceeded",
    "CreateContainerConfigError",
    "Error",
    "Deleted",
}

Obj = dict[str, Any]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _replicas(job: Obj | None, pods: list[Obj]) -> list[ReplicaStatus]:
    retried = retries_preemption(job)
    found = {i: interpret_pod(p, preemption_retried=retried) for i, p in latest_pods_by_replica(pods).items()}
    wanted = int(((job or {}).get("spec") or {}).get("completions") or 1)
    for index in range(wanted):
        found.setdefault(index, ReplicaStatus(index, JobPhase.PENDING, "Waiting", "waiting for its pod"))
    return [found[i] for i in sorted(found)]


def status_from_objects(
    run_id: RunId, namespace: str, job: Obj | None, pods: list[Obj], *, cancelled: bool = False
) -> RunStatus:
    """A RunStatus from the Job and its pods as the API server returned them."""
    meta = (job or {}).get("metadata") or {}
    labels = meta.get("labels") or {}
    created = parse_time(meta.get("creationTimestamp")) or _now()
    replicas = _replicas(job, pods)
    outcome = interpret_job(job or {})
    phase = JobPhase.CANCELLED if cancelled and outcome.phase is None else run_phase(outcome, replicas)
    if job is not None and meta.get("deletionTimestamp") and outcome.phase is None:
        phase = JobPhase.CANCELLED
    reason, message = outcome.reason, outcome.message
    if phase == JobPhase.CANCELLED:
        reason, message = "Cancelled", "cancelled; its pods are being removed"
    elif phase == JobPhase.FAILED:
        culprits = [r for r in replicas if r.phase == JobPhase.FAILED and r.reason not in ("", "Error")]
        if culprits:
            message = f"{message}; replica {culprits[0].index}: {culprits[0].reason}: {culprits[0].message}"
    elif not reason:
        worst = next((r for r in replicas if r.reason in WARNING_REASONS), None)
        if worst is not None:
            reason, message = worst.reason, worst.message
        else:
            reason = str(phase)
    starts = [parse_time((p.get("status") or {}).get("startTime")) for p in pods]
    started = min((s for s in starts if s is not None), default=None)
    return RunStatus(
        run_id=run_id,
        function=str(labels.get(LABEL_NAME) or run_id),
        backend="kubernetes",
        phase=phase,
        created=created,
        replicas=tuple(replicas),
        started=started,
        finished=outcome.finished,
        reason=reason,
        message=message,
        log_location=f"{namespace}/{run_id}",
    )


class RunTracker:
    """Keeps one run's Job and pods up to date and records what changed as JobEvents."""

    def __init__(
        self,
        api: KubeApiProtocol,
        namespace: str,
        run_id: RunId,
        *,
        watch_timeout: int = 300,
        on_pod: Callable[[Obj], None] | None = None,
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.run_id = run_id
        self.watch_timeout = watch_timeout
        self.on_pod = on_pod
        self.changed = threading.Condition()
        self.job: Obj | None = None
        self.job_deleted = False
        self.pods: dict[str, Obj] = {}
        self.events: list[JobEvent] = []
        self.cancelled = False
        self.stop = threading.Event()
        self._streams: list[Stream[Any]] = []
        self._last_replicas: dict[int, tuple[JobPhase, str, str]] = {}
        self._last_phase: JobPhase | None = None
        self._threads: list[threading.Thread] = []
        self._synced = {"Job": threading.Event(), "Pod": threading.Event()}

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        for kind, selectors in (
            ("Job", {"field_selector": f"metadata.name={self.run_id}"}),
            ("Pod", {"label_selector": f"{LABEL_RUN}={self.run_id}"}),
        ):
            t = threading.Thread(
                target=self._watch_loop,
                args=(kind, selectors),
                name=f"mlres-watch-{kind}-{self.run_id}",
                daemon=True,
            )
            self._threads.append(t)
            t.start()

    def seed(self, job: Obj) -> None:
        """Start from a Job we already hold (just created, or just read)."""
        with self.changed:
            if self.job is None:
                self.job = job
                self._recompute()

    def mark_cancelled(self) -> None:
        with self.changed:
            if not self.terminal:
                self.cancelled = True
                self._recompute()

    def wait_synced(self, timeout: float = 30.0) -> None:
        for ev in self._synced.values():
            ev.wait(timeout)

    def close(self) -> None:
        self.stop.set()
        with self.changed:
            streams = list(self._streams)
            self.changed.notify_all()
        for s in streams:
            s.close()

    @property
    def terminal(self) -> bool:
        return self._last_phase is not None and self._last_phase.is_terminal

    # -- the watch loop ---------------------------------------------------------------------------
    def _watch_loop(self, kind: str, selectors: dict[str, str]) -> None:
        rv = ""
        failures = 0
        while not self.stop.is_set():
            try:
                if not rv:
                    items, rv = self.api.list(kind, self.namespace, **selectors)
                    self._resync(kind, items)
                    self._synced[kind].set()
                if self.terminal:
                    return  # a finished run changes no more: no watch to hold open
                stream = self.api.watch(
                    kind, self.namespace, resource_version=rv, timeout_seconds=self.watch_timeout, **selectors
                )
                with self.changed:
                    self._streams.append(stream)
                    if self.terminal:  # it ended while this watch was being opened
                        stream.close()
                try:
                    for etype, obj in stream:
                        new_rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                        if new_rv:
                            rv = new_rv
                        if etype != "BOOKMARK":
                            self._apply(kind, etype, obj)
                        if self.stop.is_set():
                            break
                finally:
                    with self.changed:
                        if stream in self._streams:
                            self._streams.remove(stream)
                    stream.close()
                failures = 0
            except WatchGone:
                rv = ""  # too old: start over from a fresh list
            except BackendError as exc:
                failures += 1
                if failures == 3:
                    self._note("ApiUnreachable", f"lost contact with the Kubernetes API, retrying: {exc}")
                self.stop.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))

    def _resync(self, kind: str, items: list[Obj]) -> None:
        with self.changed:
            if kind == "Job":
                self.job = items[0] if items else None
                self.job_deleted = not items
            else:
                self.pods = {str(p["metadata"]["name"]): p for p in items}
            self._recompute()
        if kind == "Pod" and self.on_pod is not None:
            for p in items:
                self.on_pod(p)

    def _apply(self, kind: str, etype: str, obj: Obj) -> None:
        name = str((obj.get("metadata") or {}).get("name") or "")
        with self.changed:
            if kind == "Job":
                if etype == "DELETED":
                    self.job_deleted = True
                else:
                    self.job, self.job_deleted = obj, False
            elif etype == "DELETED":
                self.pods.pop(name, None)
            else:
                self.pods[name] = obj
            self._recompute()
        if kind == "Pod" and self.on_pod is not None:
            self.on_pod(obj)

    # -- interpretation ---------------------------------------------------------------------------
    def snapshot(self) -> RunStatus:
        with self.changed:
            return self._status()

    def _status(self) -> RunStatus:
        status = status_from_objects(
            self.run_id, self.namespace, self.job, list(self.pods.values()), cancelled=self.cancelled
        )
        if self.job_deleted and not status.phase.is_terminal:
            reason = "Cancelled" if self.cancelled else "Deleted"
            message = "cancelled" if self.cancelled else "the Job was deleted outside this notebook"
            status = replace(status, phase=JobPhase.CANCELLED, reason=reason, message=message)
        return status

    def _note(self, reason: str, message: str, *, warning: bool = True) -> None:
        with self.changed:
            self.events.append(JobEvent(self.run_id, _now(), reason, message, warning=warning))
            self.changed.notify_all()

    def _recompute(self) -> None:
        """Called with the lock held: append events for whatever changed."""
        if self.job is None and not self.job_deleted:
            return
        if self.terminal:
            return
        status = self._status()
        if not self.events:
            self.events.append(
                JobEvent(
                    self.run_id,
                    status.created,
                    "Submitted",
                    f"Job {self.namespace}/{self.run_id}",
                    phase=JobPhase.PENDING,
                )
            )
        for r in status.replicas:
            key = (r.phase, r.reason, r.message)
            if self._last_replicas.get(r.index) != key:
                self._last_replicas[r.index] = key
                self.events.append(
                    JobEvent(
                        self.run_id,
                        _now(),
                        r.reason or str(r.phase),
                        r.message,
                        replica=r.index,
                        phase=r.phase,
                        warning=r.reason in WARNING_REASONS,
                    )
                )
        if status.phase != self._last_phase:
            self._last_phase = status.phase
            self.events.append(
                JobEvent(
                    self.run_id,
                    _now(),
                    status.reason or str(status.phase),
                    status.message,
                    phase=status.phase,
                    warning=status.phase in (JobPhase.FAILED,) or status.reason in WARNING_REASONS,
                )
            )
            if status.phase.is_terminal:
                # end the open watches; their loops see the run is terminal and return
                for stream in list(self._streams):
                    stream.close()
        self.changed.notify_all()

    def follow_events(self, *, follow: bool, stop: threading.Event | None) -> Iterator[JobEvent]:
        position = 0
        while True:
            with self.changed:
                batch = self.events[position:]
                position += len(batch)
                done = self.terminal
                if not batch and follow and not done and not (stop and stop.is_set()):
                    self.changed.wait(timeout=0.5)
                    continue
            yield from batch
            if not follow or (done and position >= len(self.events)) or (stop and stop.is_set()):
                return

    def ensure_exists(self) -> None:
        """Raise RunNotFound when the Job was never seen (after the first list)."""
        self._synced["Job"].wait(30)
        with self.changed:
            if self.job is None:
                raise RunNotFound(f"no run named {self.run_id!r} in namespace {self.namespace!r}")
