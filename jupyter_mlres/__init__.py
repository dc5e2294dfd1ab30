"""jupyter_mlres: run notebook code as right-sized jobs, locally or on Kubernetes.

Importing this package is cheap: kubernetes, ipywidgets and jupyter_server are only imported
when something that needs them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from jupyter_mlres.config import load_settings
    from jupyter_mlres.core.volumes import (
        VolumeMount,
        auto_mount,
        mount_configmap,
        mount_hostpath,
        mount_pvc,
        mount_secret,
        mount_shm,
        mount_v3io,
    )
    from jupyter_mlres.sdk import Function, code_to_function, new_function

# Public names imported on first use, so that `import jupyter_mlres` stays cheap (see
# benchmarks/bench_import.py): name -> module that defines it.
_LAZY = {
    **dict.fromkeys(("Function", "code_to_function", "new_function"), "jupyter_mlres.sdk"),
    **dict.fromkeys(
        (
            "VolumeMount",
            "auto_mount",
            "mount_configmap",
            "mount_hostpath",
            "mount_pvc",
            "mount_secret",
            "mount_shm",
            "mount_v3io",
        ),
        "jupyter_mlres.core.volumes",
    ),
    "load_settings": "jupyter_mlres.config",  # needs traitlets
}

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "Function",
    "GpuModel",
    "JobFailed",
    "MlresError",
    "ResourceDefaults",
    "RunNotFound",
    "Settings",
    "SpecError",
    "SubmitError",
    "VolumeMount",
    "__version__",
    "auto_mount",
    "code_to_function",
    "load_settings",
    "mount_configmap",
    "mount_hostpath",
    "mount_pvc",
    "mount_secret",
    "mount_shm",
    "mount_v3io",
    "new_function",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_mlres' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
