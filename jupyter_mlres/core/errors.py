"""The error tree of jupyter_mlres.

::

    MlresError                      base of everything we raise on purpose
    ├── SpecError (ValueError)      invalid user input; carries .path/.value/.allowed
    ├── BackendError                something went wrong talking to a backend
    │   ├── BackendUnavailable      the backend cannot be reached / is not configured
    │   ├── SubmitError             the backend refused a submission
    │   ├── RunNotFinished          refused: the run is not over yet (delete a running run)
    │   └── RunNotFound (KeyError)  no run with that name/id
    └── JobFailed                   a run ended in Failed (raised by ``run.wait(raise_on_failure=True)``)

``SpecError`` becomes a one-line IPython ``UsageError`` in magics and HTTP 400 in the server;
``RunNotFound`` becomes 404, ``RunNotFinished`` 409 and ``BackendUnavailable`` 503.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "JobFailed",
    "MlresError",
    "RunNotFinished",
    "RunNotFound",
    "SpecError",
    "SubmitError",
]


class MlresError(Exception):
    """Base class of every error jupyter_mlres raises on purpose."""


class SpecError(MlresError, ValueError):
    """An invalid job specification.

    ``path`` is the dotted field path (``resources.limits.memory``), ``value`` the offending value
    and ``allowed`` a short description of what would have been accepted. ``str(err)`` is a single
    line that names all three, suitable for a ``UsageError``.
    """

    def __init__(
        self,
        path: str,
        value: Any,
        allowed: str | Iterable[str] = "",
        *,
        reason: str = "",
    ) -> None:
        self.path = path
        self.value = value
        if not isinstance(allowed, str):
            allowed = ", ".join(repr(a) if not isinstance(a, str) else a for a in allowed)
        self.allowed = allowed
        self.reason = reason
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"{self.path}: invalid value {self.value!r}"
        if self.reason:
            text += f" ({self.reason})"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_spec_error, (self.path, self.value, self.allowed, self.reason))


def _rebuild_spec_error(path: str, value: Any, allowed: str, reason: str) -> SpecError:
    return SpecError(path, value, allowed, reason=reason)


class BackendError(MlresError):
    """A backend failed to do what was asked."""


class BackendUnavailable(BackendError):
    """The backend cannot be reached or is not configured (HTTP 503 in the server)."""


class SubmitError(BackendError):
    """The backend refused to create the run."""


class RunNotFinished(BackendError):
    """The run is not terminal, so it cannot be deleted (HTTP 409 in the server)."""


class RunNotFound(BackendError, KeyError):
    """No run with the given name exists in the backend (HTTP 404 in the server)."""

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0]) if self.args else "run not found"


class JobFailed(MlresError):
    """A run ended in the Failed phase."""
