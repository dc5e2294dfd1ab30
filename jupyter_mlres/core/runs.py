"""The data that flows between backends, the kernel view, the SDK and the server.

A backend receives a :class:`RenderedRun` (what core rendered for one run: the manifests that are
safe to show plus the secret material that only a backend may see) and reports what happens as
:class:`JobEvent` and :class:`LogLine` values. :class:`RunStatus` is a snapshot of a run.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NewType

__all__ = [
    "TERMINAL_PHASES",
    "JobEvent",
    "JobPhase",
    "LogLine",
    "RenderedRun",
    "ReplicaStatus",
    "RunId",
    "RunStatus",
]

RunId = NewType("RunId", str)
"""A run's unique, DNS-1123 name, e.g. ``train-20261129-a1b2c``; also the Job's name."""

Manifest = dict[str, Any]


class JobPhase(str, enum.Enum):
    """Phase of a run or of one replica; Kubernetes' pod phases plus Cancelled."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    UNKNOWN = "Unknown"

    def __str__(self) -> str:
        return self.value

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_PHASES


TERMINAL_PHASES = frozenset({JobPhase.SUCCEEDED, JobPhase.FAILED, JobPhase.CANCELLED})


@dataclass(frozen=True)
class JobEvent:
    """Something that happened to a run: a phase change, a scheduling problem, a note.

    ``replica`` is None for run-level events. ``reason`` is a short CamelCase word in the
    Kubernetes style (``Unschedulable``, ``OOMKilled``, ``Preempted``, ``NotHonoured``) and
    ``message`` says what a user can do about it.
    """

    run_id: RunId
    time: datetime
    reason: str
    message: str = ""
    replica: int | None = None
    phase: JobPhase | None = None
    warning: bool = False


@dataclass(frozen=True)
class LogLine:
    """One line a replica printed (without its trailing newline)."""

    run_id: RunId
    replica: int
    stream: str  # "stdout" | "stderr"
    text: str
    time: datetime


@dataclass(frozen=True)
class ReplicaStatus:
    index: int
    phase: JobPhase
    reason: str = ""
    message: str = ""
    exit_code: int | None = None


@dataclass(frozen=True)
class RunStatus:
    """A snapshot of one run, as listed by ``%mlrun jobs`` and the sidebar."""

    run_id: RunId
    function: str
    backend: str
    phase: JobPhase
    created: datetime
    replicas: Sequence[ReplicaStatus] = ()
    started: datetime | None = None
    finished: datetime | None = None
    reason: str = ""
    message: str = ""
    log_location: str = ""
    """Where the full log lives (a file path locally, ``namespace/job`` on Kubernetes)."""
    notebook: str = ""
    """Path of the notebook that started the run, when known."""


@dataclass(frozen=True)
class RenderedRun:
    """Everything a backend needs to start one run.

    ``manifests`` are the Kubernetes objects in creation order (ConfigMap, [Secret], [Service],
    Job) and never contain a secret value: secret data is in ``secret_data`` (secret name ->
    key -> value), which only backends read and nothing ever displays.
    ``files`` is the code bundle (the ConfigMap's data: runner, code, job description) and
    ``binary_files`` its binaryData.
    """

    run_id: RunId
    function: str
    manifests: Sequence[Manifest]
    files: Mapping[str, str]
    binary_files: Mapping[str, bytes] = field(default_factory=dict)
    secret_data: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    notes: Sequence[str] = ()
    """Human-readable remarks from rendering (e.g. "no spot nodes configured")."""

    def __repr__(self) -> str:
        return f"RenderedRun(run_id={self.run_id!r}, function={self.function!r}, manifests={len(self.manifests)})"
