"""What the REST handlers do, without HTTP: find runs across backends, read logs, cancel, delete.

Every method here blocks (backends do I/O); the handlers call them through an executor so the
server's IO loop never waits on a backend. A backend that cannot be created or reached is reported
as unavailable in the listing instead of failing the whole request.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from jupyter_mlres.backends.base import Backend
from jupyter_mlres.core.errors import BackendError, BackendUnavailable, MlresError, RunNotFound
from jupyter_mlres.core.runs import JobEvent, LogLine, RunId, RunStatus
from jupyter_mlres.core.settings import Settings

__all__ = ["BackendState", "RunService", "default_backend_names", "describe_error"]

BackendFactory = Callable[[str, Settings], Backend]

_T = TypeVar("_T")

RETRY_SECONDS = 10.0
"""How long a backend that failed to load stays failed before we try to create it again."""


@dataclass(frozen=True)
class BackendState:
    name: str
    available: bool
    error: str = ""


def describe_error(error: BaseException) -> str:
    """A one-line, bounded description that is safe to send to the browser.

    Our own errors are written for users. Anything else may come from a third-party client whose
    text can carry request details, so only its type and first line go out.
    """
    if isinstance(error, MlresError):
        text = str(error)
    else:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def kubernetes_configured(settings: Settings, env: Mapping[str, str]) -> bool:
    """True when a kubeconfig or an in-cluster service account is there to be used."""
    if settings.kubeconfig or settings.kube_context:
        return True
    if env.get("KUBECONFIG") or env.get("KUBERNETES_SERVICE_HOST"):
        return True
    home = env.get("HOME")
    if not home:
        return False
    return (Path(home) / ".kube" / "config").is_file()


def default_backend_names(settings: Settings, env: Mapping[str, str] | None = None) -> list[str]:
    """``local`` always, ``kubernetes`` when configured, and the settings' default backend."""
    env = os.environ if env is None else env
    names = ["local"]
    if kubernetes_configured(settings, env):
        names.append("kubernetes")
    if settings.backend not in names:
        names.append(settings.backend)
    return names


class RunService:
    """Runs of every enabled backend, addressed as ``(backend name, run id)``."""

    def __init__(self, settings: Settings, names: Sequence[str], factory: BackendFactory) -> None:
        self.settings = settings
        self.names = list(dict.fromkeys(names))
        self._factory = factory
        self._lock = threading.Lock()
        self._backends: dict[str, Backend] = {}
        self._failures: dict[str, tuple[float, str]] = {}

    # -- backends -------------------------------------------------------------------------------
    def backend(self, name: str) -> Backend:
        """The backend called ``name``; ``RunNotFound`` when it is not enabled here,
        ``BackendUnavailable`` when it cannot be created."""
        if name not in self.names:
            raise RunNotFound(f"no backend {name!r} is enabled here; enabled: {', '.join(self.names)}")
        with self._lock:
            if name in self._backends:
                return self._backends[name]
            failed = self._failures.get(name)
            if failed and time.monotonic() - failed[0] < RETRY_SECONDS:
                raise BackendUnavailable(failed[1])
        try:
            backend = self._factory(name, self.settings)
        except Exception as error:
            message = f"backend {name!r} is unavailable: {describe_error(error)}"
            with self._lock:
                self._failures[name] = (time.monotonic(), message)
            raise BackendUnavailable(message) from error
        with self._lock:
            self._failures.pop(name, None)
            return self._backends.setdefault(name, backend)

    def list_runs(self) -> tuple[list[RunStatus], list[BackendState]]:
        """All runs of all enabled backends, newest first, and the state of each backend."""
        runs: list[RunStatus] = []
        states: list[BackendState] = []
        for name in self.names:
            try:
                found = self.backend(name).list_runs()
            except Exception as error:  # one broken backend must not hide the others' runs
                states.append(BackendState(name, False, describe_error(error)))
                continue
            runs.extend(found)
            states.append(BackendState(name, True))
        runs.sort(key=lambda s: s.created, reverse=True)
        return runs, states

    # -- one run --------------------------------------------------------------------------------
    def status(self, backend: str, run_id: str) -> RunStatus:
        return self._call(backend, lambda b: b.status(RunId(run_id)))

    def events(self, backend: str, run_id: str) -> list[JobEvent]:
        return self._call(backend, lambda b: list(b.events(RunId(run_id), follow=False)))

    def cancel(self, backend: str, run_id: str) -> RunStatus:
        return self._call(backend, lambda b: b.cancel(RunId(run_id)))

    def delete(self, backend: str, run_id: str) -> None:
        """Remove a finished run; ``RunNotFinished`` (nothing removed) for one still going."""
        self._call(backend, lambda b: b.delete(RunId(run_id)))

    def log_page(
        self, backend: str, run_id: str, *, offset: int = 0, tail: int | None = None, limit: int = 5000
    ) -> tuple[list[tuple[int, LogLine]], int]:
        """Lines from ``offset`` (or the last ``tail`` lines), at most ``limit`` of them, each with
        its offset, and the offset to continue from."""

        def read(b: Backend) -> tuple[list[tuple[int, LogLine]], int]:
            lines = b.logs(RunId(run_id), follow=False)
            if tail is not None:
                window: deque[tuple[int, LogLine]] = deque(maxlen=max(min(tail, limit), 0))
                total = 0
                for position, line in enumerate(lines):
                    window.append((position, line))
                    total = position + 1
                return list(window), total
            page: list[tuple[int, LogLine]] = []
            position = 0
            for position, line in enumerate(lines):
                if position < offset:
                    continue
                if len(page) >= limit:
                    return page, position
                page.append((position, line))
            return page, (page[-1][0] + 1 if page else max(offset, 0))

        return self._call(backend, read)

    def full_log(self, backend: str, run_id: str) -> Iterator[LogLine]:
        """The whole log; iterate it off the IO loop."""
        b = self.backend(backend)
        return b.logs(RunId(run_id), follow=False)

    def follow_log(
        self, backend: str, run_id: str, offset: int, stop: threading.Event
    ) -> Iterator[tuple[int, LogLine]]:
        """Lines from ``offset`` on, as they are written, until the run ends or ``stop``."""
        b = self.backend(backend)
        for position, line in enumerate(b.logs(RunId(run_id), follow=True, stop=stop)):
            if position >= offset:
                yield position, line

    def _call(self, backend: str, action: Callable[[Backend], _T]) -> _T:
        b = self.backend(backend)
        try:
            return action(b)
        except MlresError:
            raise
        except Exception as error:
            raise BackendError(f"backend {backend!r} failed: {describe_error(error)}") from error
