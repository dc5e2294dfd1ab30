"""``LocalBackend``: runs jobs as processes on this machine (the default backend).

The kernel side is deliberately thin: ``submit`` writes the run directory and starts a detached
supervisor (see :mod:`.supervisor`), and everything else reads the files the supervisor writes.
So a fresh kernel (or the server extension) sees and follows a run exactly as the kernel that
started it did. The supervisor is forked by the warm start server (:mod:`.warmserver`) when one
runs, else started as a new interpreter (and a server is started for the next run). The kernel
that submitted a run is poked the moment its files change (:mod:`.notify`); others poll them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import psutil

from jupyter_mlres.backends.base import refuse_unfinished
from jupyter_mlres.backends.local import launch, warmstart
from jupyter_mlres.backends.local.files import append_json_line, read_json, read_json_lines, write_json_atomic
from jupyter_mlres.backends.local.gpus import GpuAllocator, process_alive
from jupyter_mlres.backends.local.layout import RunDir, run_root
from jupyter_mlres.backends.local.logfile import LogCursor, tail_offset
from jupyter_mlres.backends.local.notify import Wakeup
from jupyter_mlres.backends.local.plan import Plan, build_plan
from jupyter_mlres.backends.local.records import (
    StatusRecord,
    event_from_record,
    event_record,
    now,
    pending_replica,
    status_from_record,
)
from jupyter_mlres.core.errors import BackendError, RunNotFound, SubmitError
from jupyter_mlres.core.runs import JobEvent, JobPhase, LogLine, RenderedRun, RunId, RunStatus
from jupyter_mlres.core.settings import Settings

__all__ = ["LocalBackend"]

_RUN_ID_RE: Final = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_POLL_MIN: Final = 0.01
_POLL_MAX: Final = 0.1
_POLL_MAX_WITH_WAKEUP: Final = 1.0
"""Seconds between looks at a run's files when its supervisor pokes this process on changes."""
_TERMINAL_EVENT_GRACE: Final = 2.0
_PACKAGE_ROOT: Final = str(Path(__file__).resolve().parents[3])
_LAUNCH_PY: Final = str(Path(__file__).with_name("launch.py"))
# The supervisor's entry point, ``python -c BOOT RUN_DIR``. A run that needs nothing first (no
# GPUs, no volumes) has its replicas started by launch.py, run by path with the standard library
# only, before jupyter_mlres is imported: a short job is done sooner. A SIGTERM (cancel) that
# arrives meanwhile is remembered, not fatal. Then it imports this very copy of jupyter_mlres
# (also when it runs from a source tree) and supervises:
# ``python -m jupyter_mlres.backends.local.supervisor RUN_DIR`` does the same minus the head start.
_SUPERVISOR_BOOT: Final = f"""
import json, os, signal, sys
cancelled = []
signal.signal(signal.SIGTERM, lambda *_: cancelled.append(True))
run_dir = sys.argv[1]
launched = None
if not os.path.exists(os.path.join(run_dir, "cancel")):
    with open(os.path.join(run_dir, "plan.json"), encoding="utf-8") as f:
        plan = json.load(f)
    launch = {{"__name__": "mlres_launch"}}
    with open({_LAUNCH_PY!r}, encoding="utf-8") as f:
        exec(compile(f.read(), {_LAUNCH_PY!r}, "exec"), launch)
    if launch["can_start_at_once"](plan):
        launched = launch["start_replicas"](run_dir, plan, [], {{}})
# jupyter_mlres/__init__ imports the whole public API (core, sdk): the supervisor needs none of
# it, so it gets the package without running that file (its modules import only what they use).
import types
package = types.ModuleType("jupyter_mlres")
package.__path__ = [{str(Path(_PACKAGE_ROOT) / "jupyter_mlres")!r}]
sys.modules["jupyter_mlres"] = package
from jupyter_mlres.backends.local.supervisor import main
sys.exit(main(sys.argv[1:], launched=launched, cancelled=bool(cancelled)))
"""
_SUPERVISOR_START_GRACE: Final = 30.0
"""Seconds a run may sit without a recorded supervisor before it counts as lost."""
_SUPERVISOR_EXIT_GRACE: Final = 10.0
"""Seconds ``delete`` waits for a finished run's supervisor to write its last event and exit."""


class LocalBackend:
    """Runs each replica as a process of the kernel's Python; see the README's "Local backend"."""

    name = "local"

    def __init__(self, settings: Settings | None = None, *, python: str | None = None) -> None:
        self.settings = settings or Settings()
        self.root = run_root(self.settings)
        self.python = python or sys.executable
        self._reconcile_lock = threading.Lock()
        self._wakeups: dict[str, Wakeup] = {}

    def prewarm(self, wait: float = 0.0) -> bool:
        """Start the warm start server now, so that the first run is fast too; True once it
        answers (``wait``: seconds to wait for that; by default it starts in the background)."""
        where = warmstart.address(self.python) if self.settings.local_warm_start else None
        if where is None:
            return False
        warmstart.ensure_server(where, self.python)
        return warmstart.wait_ready(where, wait)

    # -- Backend protocol -----------------------------------------------------------------------
    def submit(self, run: RenderedRun) -> RunStatus:
        if not _RUN_ID_RE.match(run.run_id) or len(run.run_id) > 253:
            raise SubmitError(f"run id {run.run_id!r} is not a DNS-1123 name; cannot use it as a directory")
        run_dir = RunDir(self.root / run.run_id)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            run_dir.path.mkdir(mode=0o700)
        except FileExistsError:
            raise SubmitError(
                f"a local run named {run.run_id!r} already exists in {self.root}; use another run id"
            ) from None
        try:
            status = self._prepare(run, run_dir)
            self._start_supervisor(run.run_id, run_dir)
        except BaseException:
            shutil.rmtree(run_dir.path, ignore_errors=True)
            raise
        return status

    def status(self, run_id: RunId) -> RunStatus:
        return status_from_record(self._status_record(self._run_dir(run_id)))

    def events(
        self, run_id: RunId, *, follow: bool = True, stop: threading.Event | None = None
    ) -> Iterator[JobEvent]:
        run_dir = self._run_dir(run_id)
        offset = 0
        delay = _POLL_MIN
        terminal_since: float | None = None
        wakeup = self._wakeups.get(run_id)
        while True:
            seen = wakeup.generation if wakeup is not None else 0
            records, offset = read_json_lines(run_dir.events, offset)
            for record in records:
                event = event_from_record(run_id, record)
                yield event
                if event.replica is None and event.phase is not None and event.phase.is_terminal:
                    return
            if not follow or (stop is not None and stop.is_set()):
                return
            if records:
                delay = _POLL_MIN
                continue
            # The terminal status is written just before the terminal event: wait for the event
            # a little (it is the last one a follower gets), but not forever (a crash between).
            if terminal_since is None and JobPhase(self._status_record(run_dir)["phase"]).is_terminal:
                terminal_since = time.monotonic()
            if terminal_since is not None and time.monotonic() - terminal_since > _TERMINAL_EVENT_GRACE:
                return
            delay = _pause(wakeup, seen, delay, stop)

    def logs(
        self,
        run_id: RunId,
        *,
        follow: bool = False,
        tail: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[LogLine]:
        run_dir = self._run_dir(run_id)
        cursor = LogCursor(run_id, run_dir.log, tail_offset(run_dir.log, tail) if tail is not None else 0)
        delay = _POLL_MIN
        wakeup = self._wakeups.get(run_id)
        while True:
            seen = wakeup.generation if wakeup is not None else 0
            # Status first: the supervisor finishes the log before it writes a terminal status.
            terminal = not follow or JobPhase(self._status_record(run_dir)["phase"]).is_terminal
            got = False
            for batch in cursor.read():
                got = got or bool(batch)
                yield from batch
            if terminal or (stop is not None and stop.is_set()):
                return
            delay = _POLL_MIN if got else _pause(wakeup, seen, delay, stop)

    def cancel(self, run_id: RunId) -> RunStatus:
        run_dir = self._run_dir(run_id)
        record = self._status_record(run_dir)
        if JobPhase(record["phase"]).is_terminal:
            return status_from_record(record)
        run_dir.cancel_request.touch()
        supervisor = self._supervisor(run_dir)
        if supervisor is not None and process_alive(*supervisor):
            with contextlib.suppress(ProcessLookupError):
                os.kill(supervisor[0], signal.SIGTERM)
        grace = _plan_grace(run_dir)
        deadline = time.monotonic() + grace + 5.0
        delay = _POLL_MIN
        wakeup = self._wakeups.get(run_id)
        while time.monotonic() < deadline:
            seen = wakeup.generation if wakeup is not None else 0
            record = self._status_record(run_dir)
            if JobPhase(record["phase"]).is_terminal:
                break
            delay = _pause(wakeup, seen, min(delay, _POLL_MAX), None)
        return status_from_record(record)

    def list_runs(self) -> list[RunStatus]:
        runs: list[RunStatus] = []
        if not self.root.is_dir():
            return runs
        for path in self.root.iterdir():
            run_dir = RunDir(path)
            if not run_dir.status.is_file():
                continue
            try:
                runs.append(status_from_record(self._status_record(run_dir)))
            except (OSError, ValueError, KeyError):
                continue  # a run directory being written or damaged: skip, never fail the listing
        return sorted(runs, key=lambda s: s.created, reverse=True)

    def result(self, run_id: RunId) -> Any:
        run_dir = self._run_dir(run_id)
        path = run_dir.result(0)
        if self._status_record(run_dir)["phase"] != JobPhase.SUCCEEDED.value or not path.exists():
            return None
        try:
            payload = read_json(path)
        except (OSError, ValueError) as e:
            raise BackendError(f"the result of run {run_id!r} ({path}) cannot be read: {e}") from e
        if "error" in payload:
            raise BackendError(f"run {run_id!r} has no result: {payload['error']}")
        if "result_repr" in payload:
            return payload["result_repr"]
        return payload.get("result")

    def delete(self, run_id: RunId) -> None:
        run_dir = self._run_dir(run_id)
        try:
            record = self._status_record(run_dir)
        except FileNotFoundError:  # another delete got there first
            raise RunNotFound(f"no local run named {run_id!r} in {self.root}") from None
        refuse_unfinished(status_from_record(record), default_backend=self.settings.backend)
        path = run_dir.path
        # _run_dir accepts DNS-1123 names only, so the path is a direct child of the root; a
        # symlink planted there instead of a directory is refused, never followed.
        if path.is_symlink() or not path.is_dir() or path.parent != self.root:
            raise BackendError(f"refusing to delete {path}: not a run directory directly under {self.root}")
        # The supervisor writes the terminal event just after the terminal status: let it finish.
        supervisor = self._supervisor(run_dir)
        deadline = time.monotonic() + _SUPERVISOR_EXIT_GRACE
        while supervisor is not None and process_alive(*supervisor):
            if time.monotonic() > deadline:
                raise BackendError(
                    f"run {run_id} is finished but its local supervisor (pid {supervisor[0]}) has not "
                    "exited yet; try again in a moment"
                )
            time.sleep(_POLL_MAX)
        self._wakeups.pop(run_id, None)
        # status.json first: from then on the run is gone for every reader (list_runs, status),
        # even if removing the rest fails half-way.
        run_dir.status.unlink(missing_ok=True)
        failures = _remove_tree(path)
        if failures:
            raise BackendError(
                f"run {run_id} was deleted, but {len(failures)} of its files could not be removed "
                f"(first: {failures[0]})"
            )

    # -- helpers ---------------------------------------------------------------------------------
    def run_dir(self, run_id: RunId) -> Path:
        """The run's directory (code, log, status...), for people who want to look inside."""
        return self._run_dir(run_id).path

    def _run_dir(self, run_id: RunId) -> RunDir:
        run_dir = RunDir(self.root / run_id)
        if not _RUN_ID_RE.match(run_id) or not run_dir.status.is_file():
            raise RunNotFound(f"no local run named {run_id!r} in {self.root}")
        return run_dir

    def _prepare(self, run: RenderedRun, run_dir: RunDir) -> RunStatus:
        run_dir.code.mkdir()
        for name, text in run.files.items():
            _safe_child(run_dir.code, name).write_text(text, encoding="utf-8")
        for name, data in run.binary_files.items():
            _safe_child(run_dir.code, name).write_bytes(data)
        write_json_atomic(run_dir.manifests, list(run.manifests))
        # Jupyter Server tells a notebook's kernel its path; the sidebar offers to open it.
        notebook = os.environ.get("JPY_SESSION_NAME", "")
        plan = build_plan(
            run, self.settings, run_dir=run_dir.path, python=self.python, cwd=os.getcwd(), notebook=notebook
        )
        plan.not_honoured = [
            f"{item} (runs with {self.python})" if item.startswith("container.image=") else item
            for item in plan.not_honoured
        ]
        write_json_atomic(run_dir.plan, plan.to_json(), mode=0o600)
        created = now()
        replicas = [pending_replica(i) for i in range(plan.replicas)]
        record: StatusRecord = {
            "run_id": run.run_id,
            "function": run.function,
            "phase": JobPhase.PENDING.value,
            "reason": "",
            "message": "",
            "created": created.isoformat(),
            "started": None,
            "finished": None,
            "log_location": str(run_dir.log),
            "notebook": plan.notebook,
            "replicas": replicas,
            "supervisor_pid": None,
            "supervisor_started": None,
        }
        write_json_atomic(run_dir.status, record)
        append_json_line(
            run_dir.events,
            event_record("Submitted", f"local run in {run_dir.path}", phase=JobPhase.PENDING, time=created),
        )
        if plan.not_honoured:
            append_json_line(
                run_dir.events,
                event_record(
                    "NotHonoured",
                    "not applied by the local backend: " + "; ".join(plan.not_honoured),
                    warning=True,
                ),
            )
        return status_from_record(record)

    def _start_supervisor(self, run_id: str, run_dir: RunDir) -> None:
        ours, theirs = socket.socketpair()
        try:
            where = warmstart.address(self.python) if self.settings.local_warm_start else None
            warm = warmstart.request_start(where, run_dir.path, theirs) if where is not None else None
            if warm is not None:
                pid, started = warm.pid, warm.started
            else:
                if where is not None:
                    warmstart.ensure_server(where, self.python)  # for the next run
                pid, started = self._start_cold(run_dir, theirs)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        write_json_atomic(run_dir.path / "supervisor.json", {"pid": pid, "started": started})
        wakeup = Wakeup(ours, on_close=lambda: self._wakeups.pop(run_id, None))
        self._wakeups[run_id] = wakeup
        if wakeup.closed:  # the run was over before it was registered
            self._wakeups.pop(run_id, None)

    def _start_cold(self, run_dir: RunDir, channel: socket.socket) -> tuple[int, float | None]:
        with open(run_dir.supervisor_log, "ab") as log:
            proc = subprocess.Popen(
                [self.python, "-c", _SUPERVISOR_BOOT, str(run_dir.path), str(channel.fileno())],
                cwd=run_dir.path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(channel.fileno(),),
            )
        try:
            started: float | None = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            started = None
        # Reap it when it ends while this process lives (after that, init does).
        threading.Thread(target=proc.wait, name=f"mlres-reap-{proc.pid}", daemon=True).start()
        return proc.pid, started

    def _supervisor(self, run_dir: RunDir) -> tuple[int, float | None] | None:
        try:
            data = read_json(run_dir.path / "supervisor.json")
        except (OSError, ValueError):
            return None
        return int(data["pid"]), data.get("started")

    def _status_record(self, run_dir: RunDir) -> StatusRecord:
        record: StatusRecord = read_json(run_dir.status)
        if JobPhase(record["phase"]).is_terminal:
            return record
        supervisor = self._supervisor(run_dir)
        if supervisor is not None and process_alive(*supervisor):
            return record
        if supervisor is None and time.time() - run_dir.status.stat().st_ctime < _SUPERVISOR_START_GRACE:
            return record  # being submitted right now
        return self._supervisor_lost(run_dir, supervisor)

    def _supervisor_lost(self, run_dir: RunDir, supervisor: tuple[int, float | None] | None) -> StatusRecord:
        """The supervisor is gone without finishing the run: clean up and say so."""
        with self._reconcile_lock:
            record: StatusRecord = read_json(run_dir.status)
            if JobPhase(record["phase"]).is_terminal:
                return record  # it finished after all, just now
            for pid in _replica_pids(run_dir, record):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            GpuAllocator(run_dir.gpu_state).release(record["run_id"])
            if run_dir.cancel_request.exists():
                phase, reason, message = JobPhase.CANCELLED, "Cancelled", "cancelled by the user"
            else:
                who = f"pid {supervisor[0]}" if supervisor else "never started"
                phase, reason = JobPhase.FAILED, "SupervisorLost"
                message = (
                    f"the local supervisor ({who}) ended without finishing the run; "
                    f"see {run_dir.supervisor_log}"
                )
            for replica in record["replicas"]:
                if not JobPhase(replica["phase"]).is_terminal:
                    replica.update({"phase": phase.value, "reason": reason, "message": message})
            record.update(
                {"phase": phase.value, "reason": reason, "message": message, "finished": now().isoformat()}
            )
            write_json_atomic(run_dir.status, record)
            append_json_line(run_dir.events, event_record(reason, message, phase=phase, warning=True))
            return record


def _replica_pids(run_dir: RunDir, record: StatusRecord) -> list[int]:
    """Live replica processes of the run: from its status, else from pids.json (written as they
    started) when they still run this run's runner — a recycled pid is never someone else's."""
    pids = [r["pid"] for r in record["replicas"] if r["pid"] and process_alive(r["pid"], r["pid_started"])]
    if any(r["pid"] for r in record["replicas"]):
        return pids
    try:
        started = read_json(run_dir.path / "pids.json")
    except (OSError, ValueError):
        return []
    for replica in started.get("replicas", []):
        # A recycled pid is never someone else's: it must have started when the replica did.
        if isinstance(replica, dict) and replica.get("start") is not None:
            pid = int(replica["pid"])
            if launch.process_start_ticks(pid) == replica["start"]:
                pids.append(pid)
    return pids


def _pause(wakeup: Wakeup | None, seen: int, delay: float, stop: threading.Event | None) -> float:
    """Wait until the run's files may have changed (poked) or ``delay`` passed; the next delay."""
    if wakeup is None or wakeup.closed:  # closed: its supervisor is gone, the files final
        return _sleep(delay, stop)
    end = time.monotonic() + delay
    # In slices, so that a ``stop`` is seen as soon as without a wakeup.
    while not (stop is not None and stop.is_set()) and wakeup.generation == seen and not wakeup.closed:
        remaining = end - time.monotonic()
        if remaining <= 0:
            break
        wakeup.wait(seen, min(remaining, _POLL_MAX))
    return min(delay * 1.5, _POLL_MAX_WITH_WAKEUP)


def _sleep(delay: float, stop: threading.Event | None) -> float:
    if stop is not None:
        stop.wait(delay)
    else:
        time.sleep(delay)
    return min(delay * 1.5, _POLL_MAX)


def _plan_grace(run_dir: RunDir) -> float:
    try:
        return Plan.from_json(read_json(run_dir.plan)).grace_seconds
    except (OSError, ValueError, TypeError, KeyError):
        return 5.0


def _remove_tree(path: Path) -> list[str]:
    """Remove ``path`` and everything under it (symlinks are removed, never followed); what
    could not be removed."""
    failures: list[str] = []

    def failed(where: str, error: BaseException) -> None:
        if not isinstance(error, FileNotFoundError):  # removed meanwhile (a concurrent delete)
            failures.append(f"{where}: {error}")

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=lambda _fn, where, exc: failed(where, exc))
    else:
        shutil.rmtree(path, onerror=lambda _fn, where, info: failed(where, info[1]))
    return failures


def _safe_child(directory: Path, name: str) -> Path:
    path = directory / name
    if path.parent != directory or name in ("", ".", ".."):
        raise SubmitError(f"file name {name!r} in the run's code bundle is not a plain file name")
    return path
