"""The notebook job view: one compact display per run, bounded whatever the job prints.

:class:`RunModel` is fed by the watcher threads (events, log lines) and keeps only what the view
shows: phase per replica, the last few events, a ring buffer of ``Settings.log_tail_lines`` log
lines. Views render snapshots of it:

- :class:`WidgetView` (a JupyterLab/Notebook front end): ipywidgets whose values are *replaced* at
  most :data:`REFRESH_SECONDS` apart and only when they changed; each update is one comm message
  of bounded size, so a job printing a million lines never reaches Jupyter's iopub rate limits.
- :class:`TextView` (terminal IPython, nbconvert, nbval): plain deterministic lines — phase
  changes and warnings as they happen, then the final status and the log tail. No run ids, times
  or sizes, so notebooks executed under nbval have stable outputs.
"""

from __future__ import annotations

import html
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from jupyter_mlres.core.runs import JobEvent, JobPhase, LogLine, RunStatus

__all__ = ["REFRESH_SECONDS", "RunModel", "Snapshot", "TextView", "View", "WidgetView"]

REFRESH_SECONDS = 0.25
"""Minimum time between two updates of a widget view (at most 4 per second)."""
MAX_LINE_CHARS = 400
"""Longer log lines are cut in the view (never in the full log)."""
EVENTS_SHOWN = 5


@dataclass(frozen=True)
class Snapshot:
    """What a view shows at one moment."""

    run_id: str
    function: str
    backend: str
    phase: JobPhase
    replicas: dict[int, JobPhase]
    events: tuple[JobEvent, ...]
    tail: tuple[LogLine, ...]
    total_lines: int
    elapsed: float
    log_location: str
    done: bool
    reason: str = ""
    message: str = ""
    multi_replica: bool = False


@dataclass
class RunModel:
    """Thread-safe state of one run as seen by the view (everything bounded)."""

    run_id: str
    function: str
    backend: str
    tail_lines: int = 40
    phase: JobPhase = JobPhase.PENDING
    log_location: str = ""
    reason: str = ""
    message: str = ""
    replicas: dict[int, JobPhase] = field(default_factory=dict)
    version: int = 0
    total_lines: int = 0
    events_done: bool = False
    logs_done: bool = False
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    _events: deque[JobEvent] = field(default_factory=lambda: deque(maxlen=EVENTS_SHOWN))
    _tail: deque[LogLine] = field(init=False)
    _notices: deque[str] = field(default_factory=lambda: deque(maxlen=1000))
    _announced: JobPhase | None = None
    _said: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tail = deque(maxlen=max(1, self.tail_lines))

    # -- feeding (watcher threads) -----------------------------------------------------------
    def on_event(self, event: JobEvent) -> None:
        with self._lock:
            self._events.append(event)
            if event.phase is not None:
                if event.replica is None:
                    self._announce(event.phase)
                    self.phase = event.phase
                    if event.phase.is_terminal:
                        self.reason, self.message = event.reason, event.message
                        self.finished = self.finished or time.monotonic()
                else:
                    self.replicas[event.replica] = event.phase
            if event.warning and event.replica is None:
                text = f"{self.function}: {event.reason}"
                self._notice(f"{text}: {event.message}" if event.message else text)
            self.version += 1

    def _announce(self, phase: JobPhase) -> None:
        if phase != self._announced:
            self._announced = phase
            self._notice(f"{self.function}: {phase}")

    def _notice(self, text: str) -> None:
        # Backends may report the same thing from several sources (run and replica); say it once.
        if text not in self._said:
            self._said.add(text)
            self._notices.append(text)

    def on_log(self, line: LogLine) -> None:
        # Called once per line of output, possibly millions of times: keep it to a few appends.
        with self._lock:
            self._tail.append(line)
            self.total_lines += 1
            self.version += 1

    def on_status(self, status: RunStatus) -> None:
        with self._lock:
            self.log_location = status.log_location or self.log_location
            for replica in status.replicas:
                self.replicas[replica.index] = replica.phase
            if status.phase.is_terminal and not self.phase.is_terminal:
                self._announce(status.phase)
                self.phase = status.phase
                self.reason, self.message = status.reason, status.message
                self.finished = self.finished or time.monotonic()
            self.version += 1

    def mark_done(self, which: str) -> None:
        with self._lock:
            setattr(self, f"{which}_done", True)
            self.version += 1

    # -- reading (views) ---------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.events_done and self.logs_done

    def take_notices(self) -> list[str]:
        with self._lock:
            notices = list(self._notices)
            self._notices.clear()
            return notices

    def snapshot(self) -> Snapshot:
        with self._lock:
            end = self.finished or time.monotonic()
            tail = tuple(self._tail)
            return Snapshot(
                run_id=self.run_id,
                function=self.function,
                backend=self.backend,
                phase=self.phase,
                replicas=dict(self.replicas),
                events=tuple(self._events),
                tail=tail,
                total_lines=self.total_lines,
                elapsed=end - self.started,
                log_location=self.log_location,
                done=self.done,
                reason=self.reason,
                message=self.message,
                multi_replica=len(self.replicas) > 1 or any(line.replica for line in tail),
            )


def format_log_line(line: LogLine, multi_replica: bool, limit: int | None = None) -> str:
    text = line.text if limit is None or len(line.text) <= limit else line.text[:limit] + " …"
    return f"[{line.replica}] {text}" if multi_replica else text


def _elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class View(Protocol):
    """What the watcher drives."""

    def refresh(self, snapshot: Snapshot) -> None: ...

    def close(self, snapshot: Snapshot) -> None: ...


class TextView:
    """Plain text for front ends without widgets.

    Default: deterministic (no ids, times or sizes) — phase changes and warnings as they happen,
    then the log tail once at the end. With ``stream=True`` (a terminal) log lines are printed
    as they arrive instead, at most one tail's worth per refresh; skipped lines are counted
    and stay in the full log.
    """

    def __init__(self, model: RunModel, write: Callable[[str], Any] = print, *, stream: bool = False) -> None:
        self.model = model
        self.write = write
        self.stream = stream
        self.closed = False
        self._printed = 0

    def refresh(self, snapshot: Snapshot) -> None:
        for notice in self.model.take_notices():
            self.write(notice)
        if self.stream:
            self._stream(snapshot)

    def _stream(self, snapshot: Snapshot) -> None:
        new = snapshot.total_lines - self._printed
        if new <= 0:
            return
        shown = snapshot.tail[-new:] if new < len(snapshot.tail) else snapshot.tail
        if new > len(shown):
            where = f"; full log: {snapshot.log_location}" if snapshot.log_location else ""
            self.write(f"... {new - len(shown)} more lines{where}")
        self.write("\n".join(format_log_line(line, snapshot.multi_replica) for line in shown))
        self._printed = snapshot.total_lines

    def close(self, snapshot: Snapshot) -> None:
        self.refresh(snapshot)
        if self.closed:
            return
        self.closed = True
        if snapshot.reason and snapshot.phase == JobPhase.FAILED and snapshot.message:
            failure = f"{snapshot.function}: {snapshot.reason}: {snapshot.message}"
            if failure not in self.model._said:
                self.write(failure)
        if snapshot.tail and not self.stream:
            shown = len(snapshot.tail)
            more = f" (last {shown} of {snapshot.total_lines})" if snapshot.total_lines > shown else ""
            self.write(f"--- log{more} ---")
            for line in snapshot.tail:
                self.write(format_log_line(line, snapshot.multi_replica))
            self.write("---")


_PHASE_COLOURS = {
    JobPhase.PENDING: "#b58900",
    JobPhase.RUNNING: "#268bd2",
    JobPhase.SUCCEEDED: "#2aa198",
    JobPhase.FAILED: "#dc322f",
    JobPhase.CANCELLED: "#6c71c4",
    JobPhase.UNKNOWN: "#93a1a1",
}


def _badge(phase: JobPhase) -> str:
    colour = _PHASE_COLOURS.get(phase, "#93a1a1")
    return f'<span style="color:{colour};font-weight:bold">{html.escape(str(phase))}</span>'


REPLICAS_LISTED = 8
"""More replicas than this (e.g. Dask workers coming and going) are shown as counts per phase."""


def render_replicas(replicas: dict[int, JobPhase]) -> str:
    if len(replicas) <= REPLICAS_LISTED:
        return " ".join(f"{i}:{_badge(p)}" for i, p in sorted(replicas.items()))
    counts: dict[JobPhase, int] = {}
    for phase in replicas.values():
        counts[phase] = counts.get(phase, 0) + 1
    return ", ".join(f"{n} {_badge(p)}" for p, n in counts.items())


def render_header(s: Snapshot) -> str:
    replicas = ""
    if s.multi_replica and s.replicas:
        replicas = " · replicas " + render_replicas(s.replicas)
    reason = f" · {html.escape(s.reason)}" if s.reason and s.phase == JobPhase.FAILED else ""
    return (
        f"<b>{html.escape(s.run_id)}</b> on <code>{html.escape(s.backend)}</code> · {_badge(s.phase)}"
        f"{reason}{replicas} · {_elapsed(s.elapsed)}"
    )


def render_events(s: Snapshot) -> str:
    if not s.events:
        return ""
    rows = []
    for ev in s.events:
        where = f"[{ev.replica}] " if ev.replica is not None else ""
        style = ' style="color:#dc322f"' if ev.warning else ""
        message = f": {html.escape(ev.message)}" if ev.message else ""
        rows.append(f"<div{style}>{where}<b>{html.escape(ev.reason)}</b>{message}</div>")
    return "<div style='font-size:90%'>" + "".join(rows) + "</div>"


def render_tail(s: Snapshot) -> str:
    text = "\n".join(format_log_line(line, s.multi_replica, MAX_LINE_CHARS) for line in s.tail)
    return (
        "<pre style='max-height:24em;overflow:auto;margin:0;font-size:85%'>"
        + html.escape(text or "(no output yet)")
        + "</pre>"
    )


def render_footer(s: Snapshot) -> str:
    where = f"full log: <code>{html.escape(s.log_location)}</code>" if s.log_location else ""
    return f"<small>{s.total_lines} lines · {where}</small>"


class WidgetView:
    """ipywidgets view; every child's value is replaced at most every :data:`REFRESH_SECONDS`."""

    def __init__(self, on_cancel: Callable[[], Any], on_detach: Callable[[], Any]) -> None:
        import ipywidgets as w

        self._header = w.HTML()
        self._events = w.HTML()
        self._tail = w.HTML()
        self._footer = w.HTML()
        self._cancel = w.Button(description="Cancel", button_style="danger", icon="stop")
        self._detach = w.Button(description="Detach", icon="eject")
        self._cancel.on_click(lambda _b: on_cancel())
        self._detach.on_click(lambda _b: on_detach())
        buttons = w.HBox([self._cancel, self._detach])
        self.widget = w.VBox([self._header, self._events, self._tail, w.HBox([buttons, self._footer])])
        self.updates = 0
        self._last: dict[str, str] = {}

    def _set(self, key: str, target: Any, value: str) -> None:
        if self._last.get(key) != value:
            self._last[key] = value
            target.value = value
            self.updates += 1

    def refresh(self, snapshot: Snapshot) -> None:
        self._set("header", self._header, render_header(snapshot))
        self._set("events", self._events, render_events(snapshot))
        self._set("tail", self._tail, render_tail(snapshot))
        self._set("footer", self._footer, render_footer(snapshot))

    def close(self, snapshot: Snapshot) -> None:
        self.refresh(snapshot)
        self._cancel.disabled = True
        self._detach.disabled = True

    def detached(self) -> None:
        self._detach.disabled = True

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
