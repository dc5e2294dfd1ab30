"""JSON shapes of the REST API, built from core types. No business logic here.

``labextension/src/api.ts`` mirrors every function below as an ``I*`` interface; change both
together. Times are ISO 8601 strings in UTC, absent values are ``null``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, TypedDict

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.runs import JobEvent, LogLine, ReplicaStatus, RunStatus

__all__ = [
    "BackendStateJson",
    "EventJson",
    "LogLineJson",
    "ReplicaJson",
    "RunJson",
    "event_json",
    "log_line_json",
    "log_text",
    "notebook_path",
    "run_json",
    "spec_error_json",
]


class ReplicaJson(TypedDict):
    index: int
    phase: str
    reason: str
    message: str
    exit_code: int | None


class RunJson(TypedDict):
    run_id: str
    backend: str
    function: str
    phase: str
    created: str
    started: str | None
    finished: str | None
    reason: str
    message: str
    replicas: list[ReplicaJson]
    notebook: str
    log_location: str


class EventJson(TypedDict):
    time: str
    reason: str
    message: str
    replica: int | None
    phase: str | None
    warning: bool


class LogLineJson(TypedDict):
    offset: int
    replica: int
    stream: str
    text: str
    time: str


class BackendStateJson(TypedDict):
    name: str
    available: bool
    error: str


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _replica_json(replica: ReplicaStatus) -> ReplicaJson:
    return {
        "index": replica.index,
        "phase": str(replica.phase),
        "reason": replica.reason,
        "message": replica.message,
        "exit_code": replica.exit_code,
    }


def notebook_path(notebook: str, root_dir: str) -> str:
    """The notebook as a path the front end can open: relative to the server's root when under it.

    Kernels learn their notebook from Jupyter Server as an absolute path (``JPY_SESSION_NAME``).
    """
    if not notebook or not root_dir or not PurePosixPath(notebook).is_absolute():
        return notebook
    try:
        return PurePosixPath(notebook).relative_to(PurePosixPath(root_dir)).as_posix()
    except ValueError:
        return notebook


def run_json(status: RunStatus, root_dir: str = "") -> RunJson:
    return {
        "run_id": str(status.run_id),
        "backend": status.backend,
        "function": status.function,
        "phase": str(status.phase),
        "created": status.created.isoformat(),
        "started": _iso(status.started),
        "finished": _iso(status.finished),
        "reason": status.reason,
        "message": status.message,
        "replicas": [_replica_json(r) for r in status.replicas],
        "notebook": notebook_path(status.notebook, root_dir),
        "log_location": status.log_location,
    }


def event_json(event: JobEvent) -> EventJson:
    return {
        "time": event.time.isoformat(),
        "reason": event.reason,
        "message": event.message,
        "replica": event.replica,
        "phase": str(event.phase) if event.phase is not None else None,
        "warning": event.warning,
    }


def log_line_json(offset: int, line: LogLine) -> LogLineJson:
    return {
        "offset": offset,
        "replica": line.replica,
        "stream": line.stream,
        "text": line.text,
        "time": line.time.isoformat(),
    }


def log_text(line: LogLine) -> str:
    """One line of the downloadable full log: time, replica/stream tag, text."""
    return f"{line.time.isoformat()} [{line.replica}/{line.stream}] {line.text}\n"


def spec_error_json(error: SpecError, field: str = "") -> dict[str, Any]:
    """``field`` names the sidebar form field the error belongs to, when there is one."""
    value = error.value
    if not isinstance(value, (str, int, float, bool, type(None))):
        value = repr(value)
    return {
        "message": str(error),
        "path": error.path,
        "value": value,
        "allowed": error.allowed,
        "reason": error.reason,
        "field": field,
    }
