"""The JSON shapes of status.json and events.jsonl, and their conversion to core types.

The supervisor writes these files and the kernel side reads them; both import this module, so
the two sides cannot disagree on a field name.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, TypedDict

from jupyter_mlres.core.runs import JobEvent, JobPhase, ReplicaStatus, RunId, RunStatus

__all__ = [
    "EventRecord",
    "ReplicaRecord",
    "StatusRecord",
    "event_from_record",
    "event_record",
    "now",
    "pending_replica",
    "status_from_record",
]


class ReplicaRecord(TypedDict):
    index: int
    phase: str
    reason: str
    message: str
    exit_code: int | None
    pid: int | None
    pid_started: float | None
    """The process' start time (psutil ``create_time``): a recycled pid is not our process."""


def pending_replica(index: int) -> ReplicaRecord:
    """A replica (or Dask worker) not started yet."""
    return {
        "index": index,
        "phase": JobPhase.PENDING.value,
        "reason": "",
        "message": "",
        "exit_code": None,
        "pid": None,
        "pid_started": None,
    }


class StatusRecord(TypedDict):
    run_id: str
    function: str
    phase: str
    reason: str
    message: str
    created: str
    started: str | None
    finished: str | None
    log_location: str
    notebook: str
    replicas: list[ReplicaRecord]
    supervisor_pid: int | None
    supervisor_started: float | None


class EventRecord(TypedDict):
    time: str
    reason: str
    message: str
    replica: int | None
    phase: str | None
    warning: bool


def now() -> datetime:
    return datetime.now(timezone.utc)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def status_from_record(record: StatusRecord) -> RunStatus:
    return RunStatus(
        run_id=RunId(record["run_id"]),
        function=record["function"],
        backend="local",
        phase=JobPhase(record["phase"]),
        created=datetime.fromisoformat(record["created"]),
        replicas=tuple(
            ReplicaStatus(
                index=r["index"],
                phase=JobPhase(r["phase"]),
                reason=r["reason"],
                message=r["message"],
                exit_code=r["exit_code"],
            )
            for r in record["replicas"]
        ),
        started=_time(record["started"]),
        finished=_time(record["finished"]),
        reason=record["reason"],
        message=record["message"],
        log_location=record["log_location"],
        notebook=record["notebook"],
    )


def event_record(
    reason: str,
    message: str = "",
    *,
    replica: int | None = None,
    phase: JobPhase | None = None,
    warning: bool = False,
    time: datetime | None = None,
) -> EventRecord:
    return {
        "time": (time or now()).isoformat(),
        "reason": reason,
        "message": message,
        "replica": replica,
        "phase": phase.value if phase is not None else None,
        "warning": warning,
    }


def event_from_record(run_id: RunId, record: dict[str, Any]) -> JobEvent:
    phase = record.get("phase")
    return JobEvent(
        run_id=run_id,
        time=datetime.fromisoformat(record["time"]),
        reason=record["reason"],
        message=record.get("message", ""),
        replica=record.get("replica"),
        phase=JobPhase(phase) if phase else None,
        warning=bool(record.get("warning", False)),
    )
