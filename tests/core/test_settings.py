"""Settings.from_dict / Settings.from_env: typed, validated, pure."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_mlres import GpuModel, ResourceDefaults, Settings, SpecError
from jupyter_mlres.core.settings_load import env_variable_names


def test_from_dict_builds_nested_values() -> None:
    settings = Settings.from_dict(
        {
            "default_resources": {"requests": {"cpu": 0.5}, "limits": {"memory": "4096Mi"}},
            "gpu_models": {"a100": {"node_selector": {"gpu": "a100"}}},
            "preemptible_tolerations": [{"key": "spot", "operator": "Exists"}],
            "job_ttl_seconds": None,
        }
    )
    assert settings.default_resources == ResourceDefaults(requests={"cpu": "500m"}, limits={"memory": "4Gi"})
    assert settings.gpu_models == {"a100": GpuModel(node_selector={"gpu": "a100"})}
    assert settings.job_ttl_seconds is None


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"default_preemption_mode": "sometimes"}, "settings.default_preemption_mode"),
        ({"auto_mount": "always"}, "settings.auto_mount"),
        ({"default_volume": "nfs:x:/y"}, "settings.default_volume"),
        ({"default_resources": {"requests": {"cpu": "2 cores"}}}, "settings.default_resources.requests.cpu"),
        (
            {"default_resources": {"limits": {"amd.com/gpu": 1}}},
            "settings.default_resources.limits.amd.com/gpu",
        ),
        ({"job_ttl_seconds": "1h"}, "settings.job_ttl_seconds"),
        ({"backoff_limit": -1}, "settings.backoff_limit"),
        ({"preemptible_node_selector": {"bad key!": "x"}}, "settings.preemptible_node_selector.bad key!"),
        ({"gpu_models": {"a100": {"gpu_type": "nvidia.com/gpu"}}}, "settings.gpu_models.a100"),
        ({"no_such_setting": 1}, "settings.no_such_setting"),
        ({"default_image": 3}, "settings.default_image"),
    ],
)
def test_from_dict_rejects_bad_values_with_a_path(data: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as err:
        Settings.from_dict(data)
    assert err.value.path == path


def test_bad_priority_settings_are_rejected() -> None:
    with pytest.raises(SpecError):
        Settings.from_dict({"priority_classes": {"urgent": "x"}})


def test_from_env_reads_documented_variables_only() -> None:
    env = {
        "MLRES_DEFAULT_IMAGE": "python:3.12-slim",
        "MLRES_NAMESPACE": "team-a",
        "MLRES_PREEMPTIBLE_NODE_SELECTOR": '{"node-lifecycle": "spot"}',
        "MLRES_PREEMPTIBLE_TOLERATIONS": '[{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}]',
        "MLRES_DEFAULT_PREEMPTION_MODE": "allow",
        "MLRES_JOB_TTL_SECONDS": "",
        "MLRES_BACKOFF_LIMIT": "3",
        "HOME": "/root",
        "MLRES_UNRELATED_THING": "ignored",
    }
    settings = Settings.from_env(env)
    assert settings.default_image == "python:3.12-slim"
    assert settings.namespace == "team-a"
    assert settings.preemptible_node_selector == {"node-lifecycle": "spot"}
    assert settings.preemptible_tolerations == (
        {"key": "spot", "operator": "Exists", "effect": "NoSchedule"},
    )
    assert settings.default_preemption_mode == "allow"
    assert settings.job_ttl_seconds is None
    assert settings.backoff_limit == 3


def test_from_env_over_a_base() -> None:
    base = Settings(default_image="a:1", namespace="x")
    assert Settings.from_env({"MLRES_NAMESPACE": "y"}, base=base) == Settings(
        default_image="a:1", namespace="y"
    )


@pytest.mark.parametrize(
    ("env", "path"),
    [
        ({"MLRES_BACKOFF_LIMIT": "two"}, "MLRES_BACKOFF_LIMIT"),
        ({"MLRES_DEFAULT_NODE_SELECTOR": "{not json"}, "MLRES_DEFAULT_NODE_SELECTOR"),
        ({"MLRES_DEFAULT_NODE_SELECTOR": "[1]"}, "MLRES_DEFAULT_NODE_SELECTOR"),
        ({"MLRES_AUTO_MOUNT": "sometimes"}, "settings.auto_mount"),
    ],
)
def test_from_env_errors_name_the_variable(env: dict[str, str], path: str) -> None:
    with pytest.raises(SpecError) as err:
        Settings.from_env(env)
    assert err.value.path == path


def test_every_field_has_a_variable() -> None:
    names = env_variable_names()
    assert names["MLRES_DEFAULT_IMAGE"] == "default_image"
    assert len(names) == len(Settings.__dataclass_fields__)
