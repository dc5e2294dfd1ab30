"""``%mlrun rm``: delete finished runs, one line per run, then a summary.

A run that cannot be deleted (still running, unknown, a backend error) is one line saying why;
the others are deleted all the same. Choosing which runs ``--finished`` means is pure
(:func:`finished_runs`), so it is tested without a backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from jupyter_mlres.backends.base import Backend
from jupyter_mlres.core.errors import BackendError, SpecError
from jupyter_mlres.core.runs import RunId, RunStatus

__all__ = ["delete_runs", "finished_runs", "parse_days"]

DAYS_ALLOWED = "a number of days >= 0, e.g. 7 or 0.5"


def parse_days(text: str) -> float:
    """``--older-than`` as days; a ``SpecError`` naming the option otherwise."""
    try:
        days = float(text)
    except ValueError:
        raise SpecError("rm --older-than", text, DAYS_ALLOWED) from None
    if not days >= 0 or days == float("inf"):  # also refuses nan
        raise SpecError("rm --older-than", text, DAYS_ALLOWED)
    return days


def finished_runs(
    runs: Iterable[RunStatus], *, now: datetime, older_than_days: float | None
) -> list[RunStatus]:
    """The terminal runs, and with ``older_than_days`` only those finished longer ago than that.
    A run whose finish time the backend does not know is kept when an age is asked for."""
    chosen: list[RunStatus] = []
    for run in runs:
        if not run.phase.is_terminal:
            continue
        if older_than_days is not None and (
            run.finished is None or now - run.finished <= timedelta(days=older_than_days)
        ):
            continue
        chosen.append(run)
    return chosen


def delete_runs(targets: Sequence[tuple[str, Backend]], *, echo: Callable[[str], None] = print) -> list[str]:
    """Delete each ``(run id, backend)``; a line per run and a summary go to ``echo``. Returns
    the ids deleted."""
    deleted: list[str] = []
    for run_id, backend in targets:
        try:
            backend.delete(RunId(run_id))
        except BackendError as e:
            echo(f"{run_id}: not deleted: {e}")
            continue
        deleted.append(run_id)
        echo(f"{run_id}: deleted")
    kept = len(targets) - len(deleted)
    summary = f"{len(deleted)} run{'s' if len(deleted) != 1 else ''} deleted"
    if kept:
        summary += f", {kept} not deleted"
    echo(summary)
    return deleted
