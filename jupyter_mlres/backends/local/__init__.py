"""The local backend: each run is a supervised group of processes on this machine.

``LocalBackend`` is imported lazily so that the supervisor process
(``python -m jupyter_mlres.backends.local.supervisor``) starts without loading the kernel side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlres.backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]


def __getattr__(name: str) -> Any:
    if name == "LocalBackend":
        from jupyter_mlres.backends.local.backend import LocalBackend

        return LocalBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
