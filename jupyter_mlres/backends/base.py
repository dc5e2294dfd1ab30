"""The one protocol every backend implements.

A backend speaks core types only: it receives a :class:`~jupyter_mlres.core.runs.RenderedRun`
and reports :class:`JobEvent`, :class:`LogLine` and :class:`RunStatus` values. It must be safe to
call from several threads at once (the job view follows events and logs on separate threads).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from jupyter_mlres.core.errors import RunNotFinished
from jupyter_mlres.core.runs import JobEvent, LogLine, RenderedRun, RunId, RunStatus

__all__ = ["Backend", "refuse_unfinished"]


@runtime_checkable
class Backend(Protocol):
    """Submit, observe and stop runs."""

    name: str
    """Registry name, e.g. ``"local"``."""

    def submit(self, run: RenderedRun) -> RunStatus:
        """Start the run and return its first status. Raises ``SubmitError`` on refusal."""
        ...

    def status(self, run_id: RunId) -> RunStatus:
        """Current snapshot. Raises ``RunNotFound``."""
        ...

    def events(
        self, run_id: RunId, *, follow: bool = True, stop: threading.Event | None = None
    ) -> Iterator[JobEvent]:
        """Events from the start of the run; with ``follow`` keep yielding until the run is
        terminal (the last event carries the terminal phase) or ``stop`` is set."""
        ...

    def logs(
        self,
        run_id: RunId,
        *,
        follow: bool = False,
        tail: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[LogLine]:
        """All replicas' log lines in order (the last ``tail`` lines when given); with
        ``follow`` keep yielding until the run is terminal and its logs drained, or ``stop``."""
        ...

    def cancel(self, run_id: RunId) -> RunStatus:
        """Stop the run (and everything it created). Idempotent."""
        ...

    def list_runs(self) -> list[RunStatus]:
        """The user's runs, newest first."""
        ...

    def result(self, run_id: RunId) -> Any:
        """The handler's return value once Succeeded (None when there is none)."""
        ...

    def delete(self, run_id: RunId) -> None:
        """Remove a finished run and everything this backend kept for it (files, logs, objects),
        so that ``list_runs`` no longer shows it. Raises ``RunNotFinished`` (nothing removed)
        when the run is not terminal, ``RunNotFound`` when there is no such run."""
        ...


def refuse_unfinished(status: RunStatus, *, default_backend: str = "") -> None:
    """Raise ``RunNotFinished`` unless ``status`` is terminal; the message says how to cancel it
    (naming the backend when it is not ``default_backend``, the one ``%mlrun`` uses by itself)."""
    if status.phase.is_terminal:
        return
    cancel = f"%mlrun cancel {status.run_id}"
    if status.backend and status.backend != default_backend:
        cancel += f" --backend {status.backend}"
    raise RunNotFinished(f"run {status.run_id} is {status.phase}; cancel it first: {cancel}")
