"""jupyter_mlres: run notebook code as right-sized jobs, locally or on Kubernetes.

Importing this package is cheap: kubernetes, ipywidgets and jupyter_server are only imported
when something that needs them is used.
"""

from __future__ import annotations

from typing import Any

from jupyter_mlres._version import __version__
from jupyter_mlres.core.errors import (
    BackendError,
    BackendUnavailable,
    JobFailed,
    MlresError,
    RunNotFound,
    SpecError,
    SubmitError,
)
from jupyter_mlres.core.settings import GpuModel, ResourceDefaults, Settings

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "GpuModel",
    "JobFailed",
    "MlresError",
    "ResourceDefaults",
    "RunNotFound",
    "Settings",
    "SpecError",
    "SubmitError",
    "__version__",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlres``: register the ``%%mlrun`` magics."""
    import importlib

    # Imported lazily so that `import jupyter_mlres` does not pull in IPython.
    magics = importlib.import_module("jupyter_mlres.kernel.magics")
    magics.load_ipython_extension(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_mlres.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlres"}]
