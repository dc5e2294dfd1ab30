"""jupyter_mlres: run notebook code as right-sized jobs, locally or on Kubernetes.

Importing this package is cheap: kubernetes, ipywidgets and jupyter_server are only imported
when something that needs them is used.
"""

from __future__ import annotations

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
