"""Requests, limits, GPUs and service defaults (DESIGN §4)."""

from __future__ import annotations

from typing import Any

import pytest

import jupyter_mlres as mlres
from jupyter_mlres import Settings, SpecError
from tests.core.k8s_schema import validate_all


def _fn() -> mlres.Function:
    return mlres.new_function("job", code="pass")


def _resources(fn: mlres.Function, settings: Settings | None = None) -> dict[str, Any]:
    container = fn.to_pod_spec(settings or Settings())["containers"][0]
    return dict(container.get("resources", {}))


def test_with_requests_cpu_2() -> None:
    fn = _fn().with_requests(cpu=2)
    assert fn.spec.resources == {"requests": {"cpu": "2"}, "limits": {}}
    assert _resources(fn) == {"requests": {"cpu": "2"}}


def test_python_numbers_render_canonically() -> None:
    fn = _fn().with_requests(cpu=0.5, mem=2**30)
    assert _resources(fn)["requests"] == {"cpu": "500m", "memory": "1Gi"}


def test_patch_false_replaces_patch_true_merges() -> None:
    fn = _fn().with_requests(cpu=1, mem="1Gi")
    fn.with_requests(cpu=2)
    assert fn.spec.resources["requests"] == {"cpu": "2"}
    fn.with_requests(mem="2Gi", patch=True)
    assert fn.spec.resources["requests"] == {"cpu": "2", "memory": "2Gi"}


def test_zero_removes_a_key_and_keeps_the_default_out(spot_settings: Settings) -> None:
    fn = _fn().with_limits(mem=0)
    assert "limits" not in _resources(fn, spot_settings)  # the 4Gi default limit is not applied
    fn.with_requests(cpu=1).with_requests(cpu=0, patch=True)
    assert "cpu" not in fn.spec.resources["requests"]


def test_request_above_limit_names_both() -> None:
    fn = _fn().with_limits(cpu=1)
    with pytest.raises(SpecError) as err:
        fn.with_requests(cpu=2)
    assert err.value.path == "resources.requests.cpu"
    assert "resources.limits.cpu" in str(err.value)
    assert "'2'" in str(err.value)
    assert "= 1" in str(err.value)
    assert fn.spec.resources["requests"] == {}  # unchanged


def test_request_above_a_default_limit_is_an_error_at_render(spot_settings: Settings) -> None:
    fn = _fn().with_requests(mem="8Gi")
    with pytest.raises(SpecError, match="service defaults") as err:
        fn.to_manifests(spot_settings)
    assert err.value.path == "resources.requests.memory"


def test_service_defaults_fill_unset_keys(spot_settings: Settings) -> None:
    fn = _fn().with_requests(cpu=2)
    assert _resources(fn, spot_settings) == {
        "requests": {"cpu": "2", "memory": "512Mi"},
        "limits": {"memory": "4Gi"},
    }


def test_opting_out_of_service_defaults(spot_settings: Settings) -> None:
    fn = _fn().with_requests(cpu=2).with_default_resources(False)
    assert _resources(fn, spot_settings) == {"requests": {"cpu": "2"}}


def test_gpus_are_limits_only() -> None:
    fn = _fn().gpus(1)
    assert _resources(fn) == {"limits": {"nvidia.com/gpu": "1"}}
    fn.with_limits(gpus=2, gpu_type="amd.com/gpu", cpu=4)
    assert _resources(fn) == {"limits": {"cpu": "4", "amd.com/gpu": "2"}}
    validate_all(fn.to_manifests())


def test_gpus_are_never_defaulted() -> None:
    with pytest.raises(SpecError, match="never defaulted"):
        Settings.from_dict({"default_resources": {"limits": {"nvidia.com/gpu": "1"}}})


@pytest.mark.parametrize(
    "gpu_type", ["gpu", "nvidia/gpu", "kubernetes.io/gpu", "nvidia.com/", "Nvidia.com/gpu", "a b/c"]
)
def test_gpu_type_must_be_an_extended_resource(gpu_type: str) -> None:
    def attempt() -> None:
        # Without '/' the name is a GPU model preset, checked against the settings at render.
        _fn().gpus(1, gpu_type=gpu_type).to_manifests()

    with pytest.raises(SpecError) as err:
        attempt()
    assert err.value.path == "resources.gpu_type"


@pytest.mark.parametrize("count", [-1, 1.5, "one", True])
def test_gpu_count_must_be_a_whole_number(count: object) -> None:
    with pytest.raises(SpecError):
        _fn().gpus(count)  # type: ignore[arg-type]


def test_gpu_model_preset_selects_nodes(spot_settings: Settings) -> None:
    fn = _fn().gpus(1, gpu_type="a100")
    pod = fn.to_pod_spec(spot_settings)
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_unknown_gpu_model_lists_the_presets(spot_settings: Settings) -> None:
    with pytest.raises(SpecError, match="a100, h100") as err:
        _fn().gpus(1, gpu_type="v100").to_manifests(spot_settings)
    assert err.value.path == "resources.gpu_type"


def test_gpu_model_conflicting_with_node_selector(spot_settings: Settings) -> None:
    fn = _fn().gpus(1, gpu_type="a100").with_node_selection(node_selector={"nvidia.com/gpu.product": "T4"})
    with pytest.raises(SpecError, match="a100"):
        fn.to_manifests(spot_settings)


def test_spec_resources_assignment_validates() -> None:
    fn = _fn()
    fn.spec.resources = {"requests": {"cpu": "1"}, "limits": {"cpu": "2", "nvidia.com/gpu": 1}}
    assert _resources(fn) == {"requests": {"cpu": "1"}, "limits": {"cpu": "2", "nvidia.com/gpu": "1"}}
    with pytest.raises(SpecError) as err:
        fn.spec.resources = {"limits": {"memory": "2 GB"}}
    assert err.value.path == "resources.limits.memory"
    assert fn.spec.resources["limits"]["cpu"] == "2"


@pytest.mark.parametrize(("kwargs", "path"), [({"cpu": "2 cores"}, "cpu"), ({"mem": "1GiB"}, "memory")])
def test_bad_quantities_name_the_field(kwargs: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as err:
        _fn().with_limits(**kwargs)
    assert err.value.path == f"resources.limits.{path}"
