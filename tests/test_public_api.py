"""The public surface is small, explicit and tested."""

from __future__ import annotations

import jupyter_mlres

EXPECTED = {
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
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(jupyter_mlres.__all__) == EXPECTED


def test_every_name_in_all_resolves() -> None:
    for name in jupyter_mlres.__all__:
        assert getattr(jupyter_mlres, name) is not None


def test_spec_error_is_a_value_error() -> None:
    assert issubclass(jupyter_mlres.SpecError, ValueError)
