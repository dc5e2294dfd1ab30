"""Submitting a run, watching it, and the :class:`Run` handle a cell returns.

A :class:`Watcher` follows one run on background threads — one for events, one for log lines —
feeding a bounded :class:`~jupyter_mlres.kernel.view.RunModel`. In widget mode a third thread
repaints the view at a bounded rate; in text mode the thread that waits (the cell, or
``run.wait()``) prints, so that plain output lands in the cell that asked for it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import string
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Literal

from jupyter_mlres.backends.base import Backend
from jupyter_mlres.core.errors import JobFailed
from jupyter_mlres.core.runs import JobEvent, JobPhase, RunId, RunStatus
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.kernel.uievents import ui_events
from jupyter_mlres.kernel.view import REFRESH_SECONDS, RunModel, TextView, View, WidgetView, format_log_line

__all__ = ["Run", "ViewMode", "Watcher", "attach", "detect_view_mode", "new_run_id", "submit"]

ViewMode = Literal["widget", "text", "stream", "none"]

_ALPHABET = string.ascii_lowercase + string.digits
# How often a waiting cell checks the run, a Detach, and the view's button clicks.
_POLL_SECONDS = 0.1


def new_run_id(function: str, now: datetime | None = None) -> RunId:
    """``<function>-<yyyymmdd>-<5 random>``: unique, DNS-1123, at most 63 characters."""
    now = now or datetime.now(timezone.utc)
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(5))
    stem = function[: 63 - 15].rstrip("-") or "run"
    return RunId(f"{stem}-{now:%Y%m%d}-{suffix}")


def detect_view_mode(shell: Any, preference: str = "auto") -> ViewMode:
    """``widget`` in an interactive Jupyter front end, ``stream`` in a terminal, else ``text``.

    ``MLRES_VIEW=widget|text|stream`` or an explicit preference wins. A kernel whose current
    request does not allow stdin is being driven by a program (nbclient, nbconvert, nbval,
    papermill), which cannot show widgets: deterministic text keeps executed notebooks stable.
    """
    choice = os.environ.get("MLRES_VIEW", "") or preference
    if choice in ("widget", "text", "stream", "none"):
        return choice  # type: ignore[return-value]
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return (
            "stream" if shell is not None and type(shell).__name__ == "TerminalInteractiveShell" else "text"
        )
    if not getattr(kernel, "_allow_stdin", False):
        return "text"
    try:
        import ipywidgets  # noqa: F401
    except ImportError:  # pragma: no cover - ipywidgets is a dependency
        return "text"
    return "widget"


class Watcher:
    """Follows one run's events and logs into a :class:`RunModel` and drives a view."""

    def __init__(self, backend: Backend, model: RunModel, mode: ViewMode, view: View | None) -> None:
        self.backend = backend
        self.model = model
        self.mode = mode
        self.view = view
        self.stop = threading.Event()
        self.done = threading.Event()
        self.detached = threading.Event()
        self._feeds_over = threading.Event()
        self._feeds_left = 2
        self._feeds_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        run_id = self.model.run_id
        targets = [(self._feed_events, "events"), (self._feed_logs, "logs")]
        if self.mode == "widget":
            targets.append((self._paint, "view"))
        for target, what in targets:
            thread = threading.Thread(target=target, name=f"mlres-{what}-{run_id}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _feed_done(self) -> None:
        with self._feeds_lock:
            self._feeds_left -= 1
            finished = self._feeds_left == 0
        if finished:
            # The run may be gone already; the view then keeps what it saw.
            with contextlib.suppress(Exception):
                self.model.on_status(self.backend.status(RunId(self.model.run_id)))
            self._feeds_over.set()
            if self.mode != "widget":
                self.done.set()

    def _feed_events(self) -> None:
        run_id = RunId(self.model.run_id)
        try:
            for event in self.backend.events(run_id, follow=True, stop=self.stop):
                self.model.on_event(event)
        except Exception as e:
            self.model.on_event(
                JobEvent(
                    run_id,
                    datetime.now(timezone.utc),
                    "WatchFailed",
                    f"{type(e).__name__}: {e}",
                    warning=True,
                )
            )
        finally:
            self.model.mark_done("events")
            self._feed_done()

    def _feed_logs(self) -> None:
        run_id = RunId(self.model.run_id)
        try:
            on_log = self.model.on_log
            for line in self.backend.logs(run_id, follow=True, stop=self.stop):
                on_log(line)
        except Exception as e:
            self.model.on_event(
                JobEvent(
                    run_id, datetime.now(timezone.utc), "LogsFailed", f"{type(e).__name__}: {e}", warning=True
                )
            )
        finally:
            self.model.mark_done("logs")
            self._feed_done()

    def _paint(self) -> None:
        assert self.view is not None
        seen = -1
        last_second = -1
        try:
            while True:
                finished = self.model.done
                snapshot = self.model.snapshot()
                second = int(snapshot.elapsed)
                if finished:
                    self.view.close(snapshot)
                    return
                if self.model.version != seen or second != last_second:
                    seen, last_second = self.model.version, second
                    self.view.refresh(snapshot)
                # Wait the full period (woken early only when the feeds end): this, not the
                # job's output rate, bounds what is sent to the front end.
                self._feeds_over.wait(REFRESH_SECONDS)
        finally:
            # Even if a widget update fails, waiting on the run must not hang.
            self.done.set()

    def watch(self, timeout: float | None = None) -> bool:
        """Block until the run is finished and its logs drained (True) or ``timeout`` (False).

        In text mode, prints the run's phase changes as they come and the log tail at the end.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        text = self.view if isinstance(self.view, TextView) else None
        # The view's buttons answer while the cell waits: the kernel's comm messages are handled
        # here between checks (other requests, such as the next cell, stay queued in order).
        with contextlib.ExitStack() as stack:
            pump = stack.enter_context(ui_events()) if self.mode == "widget" else None
            while not self.done.is_set():
                if text is not None:
                    text.refresh(self.model.snapshot())
                if pump is not None:
                    pump.poll()
                if self.detached.is_set():
                    return False
                step = (
                    _POLL_SECONDS
                    if deadline is None
                    else max(0.0, min(_POLL_SECONDS, deadline - time.monotonic()))
                )
                if self.done.wait(step):
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    return False
        if text is not None:
            text.close(self.model.snapshot())
        return True

    def close(self) -> None:
        """Stop following (the run itself is untouched)."""
        self.stop.set()


class Run:
    """A submitted run: ``.name``, ``.state``, ``.wait()``, ``.logs()``, ``.cancel()``, ``.result``.

    The run outlives this object and the kernel; ``%mlrun attach NAME`` gets a new handle.
    """

    def __init__(self, backend: Backend, status: RunStatus, watcher: Watcher | None = None) -> None:
        self._backend = backend
        self._first = status
        self._watcher = watcher
        self._result: Any = None
        self._have_result = False

    # -- identity -----------------------------------------------------------------------------
    @property
    def name(self) -> RunId:
        """The run's unique name (its id)."""
        return self._first.run_id

    @property
    def function(self) -> str:
        return self._first.function

    @property
    def backend(self) -> str:
        return self._backend.name

    # -- state --------------------------------------------------------------------------------
    @property
    def status(self) -> RunStatus:
        return self._backend.status(self.name)

    @property
    def state(self) -> JobPhase:
        """The run's phase: Pending, Running, Succeeded, Failed, Cancelled or Unknown."""
        return self.status.phase

    def wait(self, timeout: float | None = None, *, raise_on_failure: bool = False) -> JobPhase:
        """Wait until the run ends (or ``timeout`` seconds) and return its phase."""
        if self._watcher is not None:
            self._watcher.detached.clear()
            self._watcher.watch(timeout)
        else:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self.state.is_terminal and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.1)
        phase = self.state
        if raise_on_failure and phase == JobPhase.FAILED:
            status = self.status
            raise JobFailed(f"run {self.name} failed: {status.reason} {status.message}".strip())
        return phase

    def logs(self, tail: int | None = None) -> str:
        """The run's full log (or its last ``tail`` lines) as text; replicas prefixed ``[i]``."""
        lines = list(self._backend.logs(self.name, follow=False, tail=tail))
        multi = any(line.replica for line in lines)
        return "".join(format_log_line(line, multi) + "\n" for line in lines)

    def events(self) -> list[JobEvent]:
        """What happened to the run so far: scheduling, replicas, Dask workers scaling."""
        return list(self._backend.events(self.name, follow=False))

    def cancel(self) -> JobPhase:
        """Stop the run and everything it created; returns the phase afterwards."""
        return self._backend.cancel(self.name).phase

    @property
    def result(self) -> Any:
        """The handler's return value once the run Succeeded; None before (or without one)."""
        if not self._have_result and self.state == JobPhase.SUCCEEDED:
            self._result = self._backend.result(self.name)
            self._have_result = True
        return self._result

    @property
    def log_location(self) -> str:
        return self.status.log_location

    # -- watching -----------------------------------------------------------------------------
    def detach(self) -> None:
        """Stop blocking on this run (the view, if any, keeps updating; the job keeps running)."""
        if self._watcher is not None:
            self._watcher.detached.set()
            if isinstance(self._watcher.view, WidgetView):
                self._watcher.view.detached()

    def _watch(self, timeout: float | None = None) -> bool:
        return self._watcher.watch(timeout) if self._watcher is not None else True

    # -- display ------------------------------------------------------------------------------
    def __repr__(self) -> str:
        try:
            phase: object = self.state
        except Exception:
            phase = "Unknown"
        return f"Run({self.name!r}, backend={self.backend!r}, state={phase!s})"

    def _repr_html_(self) -> str:
        import html

        try:
            status: RunStatus | None = self.status
        except Exception:
            status = None
        phase = str(status.phase) if status else "Unknown"
        rows = [("run", self.name), ("backend", self.backend), ("state", phase)]
        if status is not None and status.phase == JobPhase.SUCCEEDED:
            try:
                rows.append(("result", repr(self.result)))
            except Exception as e:  # e.g. a result too large for the backend to return
                rows.append(("result", f"unavailable: {e}"))
        if status is not None and status.reason and status.phase == JobPhase.FAILED:
            rows.append(("reason", f"{status.reason} {status.message}".strip()))
        if status is not None and status.log_location:
            rows.append(("full log", status.log_location))
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table>{cells}</table>"


def _make_view(mode: ViewMode, model: RunModel, run_holder: list[Run]) -> tuple[View | None, Any]:
    if mode == "widget":
        view = WidgetView(
            on_cancel=lambda: run_holder[0].cancel(),
            on_detach=lambda: run_holder[0].detach(),
        )
        return view, view.widget
    if mode in ("text", "stream"):
        return TextView(model, stream=mode == "stream"), None
    return None, None


def _follow(backend: Backend, status: RunStatus, settings: Settings, mode: ViewMode) -> tuple[Run, Any]:
    model = RunModel(
        run_id=status.run_id,
        function=status.function,
        backend=backend.name,
        tail_lines=settings.log_tail_lines,
        log_location=status.log_location,
    )
    holder: list[Run] = []
    view, widget = _make_view(mode, model, holder)
    watcher = Watcher(backend, model, "text" if mode in ("none", "stream") else mode, view)
    run = Run(backend, status, watcher)
    holder.append(run)
    watcher.start()
    return run, widget


def submit(
    fn: Any,
    backend: Backend,
    settings: Settings,
    *,
    params: Mapping[str, Any] | None = None,
    attachments: Mapping[str, bytes] | None = None,
    mode: ViewMode = "text",
    run_id: RunId | None = None,
) -> tuple[Run, Any]:
    """Render ``fn`` for one run, submit it and start following it.

    Returns the handle and the widget to display (None in text mode).
    """
    rendered = fn.to_run(
        settings, run_id=run_id or new_run_id(fn.name), params=params, attachments=attachments
    )
    status = backend.submit(rendered)
    return _follow(backend, status, settings, mode)


def attach(backend: Backend, run_id: str, settings: Settings, *, mode: ViewMode = "text") -> tuple[Run, Any]:
    """A handle (and view) for an existing run. Raises ``RunNotFound``."""
    status = backend.status(RunId(run_id))
    return _follow(backend, status, settings, mode)
