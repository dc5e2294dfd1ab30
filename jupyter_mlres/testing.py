"""Test doubles at the seams jupyter_mlres owns. Public on purpose: use them in your own tests.

:class:`FakeBackend` implements the :class:`~jupyter_mlres.backends.base.Backend` protocol in
memory. Tests script what happens to a run (``emit_event``, ``emit_log``, ``finish``) and the code
under test observes it exactly as it would a real backend.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from jupyter_mlres.backends.base import refuse_unfinished
from jupyter_mlres.core.errors import RunNotFound
from jupyter_mlres.core.runs import (
    JobEvent,
    JobPhase,
    LogLine,
    RenderedRun,
    RunId,
    RunStatus,
)
from jupyter_mlres.core.settings import Settings

__all__ = ["FakeBackend"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class _FakeRun:
    def __init__(self, rendered: RenderedRun, status: RunStatus) -> None:
        self.rendered = rendered
        self.status = status
        self.events: list[JobEvent] = []
        self.logs: list[LogLine] = []
        self.result: Any = None


class FakeBackend:
    """An in-memory backend whose runs only move when the test says so."""

    def __init__(self, settings: Settings | None = None, *, name: str = "fake") -> None:
        self.name = name
        self.settings = settings or Settings()
        self.submitted: list[RenderedRun] = []
        self.cancelled: list[RunId] = []
        self.deleted: list[RunId] = []
        self._runs: dict[RunId, _FakeRun] = {}
        self._changed = threading.Condition()

    # -- Backend protocol ---------------------------------------------------------------------
    def submit(self, run: RenderedRun) -> RunStatus:
        status = RunStatus(
            run_id=run.run_id,
            function=run.function,
            backend=self.name,
            phase=JobPhase.PENDING,
            created=_now(),
            log_location=f"fake://{run.run_id}",
        )
        with self._changed:
            self.submitted.append(run)
            self._runs[run.run_id] = _FakeRun(run, status)
            self._changed.notify_all()
        self.emit_event(run.run_id, "Submitted", "accepted by the fake backend", phase=JobPhase.PENDING)
        return status

    def status(self, run_id: RunId) -> RunStatus:
        return self._get(run_id).status

    def events(
        self, run_id: RunId, *, follow: bool = True, stop: threading.Event | None = None
    ) -> Iterator[JobEvent]:
        yield from self._follow(run_id, lambda r: r.events, follow, stop)

    def logs(
        self,
        run_id: RunId,
        *,
        follow: bool = False,
        tail: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[LogLine]:
        run = self._get(run_id)
        start = 0 if tail is None else max(0, len(run.logs) - tail)
        yield from self._follow(run_id, lambda r: r.logs, follow, stop, start=start)

    def cancel(self, run_id: RunId) -> RunStatus:
        run = self._get(run_id)
        self.cancelled.append(run_id)
        if not run.status.phase.is_terminal:
            self.finish(run_id, JobPhase.CANCELLED, reason="Cancelled", message="cancelled by the user")
        return run.status

    def list_runs(self) -> list[RunStatus]:
        return sorted((r.status for r in self._runs.values()), key=lambda s: s.created, reverse=True)

    def result(self, run_id: RunId) -> Any:
        return self._get(run_id).result

    def delete(self, run_id: RunId) -> None:
        with self._changed:
            refuse_unfinished(self._get(run_id).status, default_backend=self.settings.backend)
            del self._runs[run_id]
            self.deleted.append(run_id)
            self._changed.notify_all()

    # -- scripting ----------------------------------------------------------------------------
    def emit_event(
        self,
        run_id: RunId,
        reason: str,
        message: str = "",
        *,
        phase: JobPhase | None = None,
        replica: int | None = None,
        warning: bool = False,
    ) -> None:
        with self._changed:
            run = self._get(run_id)
            run.events.append(JobEvent(run_id, _now(), reason, message, replica, phase, warning))
            if phase is not None and replica is None:
                run.status = replace(run.status, phase=phase, reason=reason, message=message)
            self._changed.notify_all()

    def emit_log(self, run_id: RunId, *lines: str, replica: int = 0, stream: str = "stdout") -> None:
        with self._changed:
            run = self._get(run_id)
            run.logs.extend(LogLine(run_id, replica, stream, text, _now()) for text in lines)
            self._changed.notify_all()

    def start(self, run_id: RunId) -> None:
        self.emit_event(run_id, "Started", phase=JobPhase.RUNNING)

    def finish(
        self,
        run_id: RunId,
        phase: JobPhase = JobPhase.SUCCEEDED,
        *,
        result: Any = None,
        reason: str = "",
        message: str = "",
        finished: datetime | None = None,
    ) -> None:
        """End the run in ``phase`` (``finished``: when it ended, default now)."""
        with self._changed:
            run = self._get(run_id)
            run.result = result
            run.status = replace(run.status, finished=finished or _now())
        self.emit_event(run_id, reason or str(phase), message, phase=phase)

    # -- internals ----------------------------------------------------------------------------
    def _get(self, run_id: RunId) -> _FakeRun:
        try:
            return self._runs[run_id]
        except KeyError:
            raise RunNotFound(f"no run named {run_id!r} in backend {self.name!r}") from None

    def _follow(
        self,
        run_id: RunId,
        items: Any,
        follow: bool,
        stop: threading.Event | None,
        start: int = 0,
    ) -> Iterator[Any]:
        position = start
        while True:
            with self._changed:
                run = self._get(run_id)
                batch = list(items(run)[position:])
                position += len(batch)
                done = run.status.phase.is_terminal
                if not batch and follow and not done and not (stop and stop.is_set()):
                    self._changed.wait(timeout=0.1)
                    continue
            yield from batch
            if not follow or (done and not batch) or (stop and stop.is_set()):
                return
