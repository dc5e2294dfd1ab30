"""The dask kind: replica ranges, the operator's custom resources, the resource mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jupyter_mlres as mlres
from jupyter_mlres import Settings, SpecError
from jupyter_mlres.core.cellargs import apply_cell_args, parse_cell_args, to_magic_line
from tests.core.dask_schema import validate_custom_resource
from tests.core.k8s_schema import validate_all


def _dask(**kwargs: Any) -> mlres.Function:
    return mlres.new_function("crunch", kind="dask", code="print(client)", **kwargs)


def _by_kind(fn: mlres.Function, settings: Settings | None = None) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in fn.to_manifests(settings)}


def _validate(manifests: list[dict[str, Any]]) -> None:
    validate_all([m for m in manifests if not m["apiVersion"].startswith("kubernetes.dask.org")])
    for m in manifests:
        if m["apiVersion"].startswith("kubernetes.dask.org"):
            validate_custom_resource(m)


# -- ranges -----------------------------------------------------------------------------------


def test_a_range_renders_a_cluster_and_an_autoscaler() -> None:
    fn = _dask()
    fn.spec.min_replicas, fn.spec.max_replicas = 1, 8
    manifests = fn.to_manifests()
    assert [m["kind"] for m in manifests] == ["ConfigMap", "DaskCluster", "DaskAutoscaler", "Job"]
    cluster, autoscaler = manifests[1], manifests[2]
    assert cluster["apiVersion"] == autoscaler["apiVersion"] == "kubernetes.dask.org/v1"
    assert cluster["spec"]["worker"]["replicas"] == 1
    assert autoscaler["spec"] == {"cluster": "crunch", "minimum": 1, "maximum": 8}
    _validate(manifests)


def test_fixed_replicas_mean_fixed_workers_and_no_autoscaler() -> None:
    fn = _dask()
    fn.spec.replicas = 3
    kinds = _by_kind(fn)
    assert "DaskAutoscaler" not in kinds
    assert kinds["DaskCluster"]["spec"]["worker"]["replicas"] == 3
    # the job itself is one pod, whatever the number of workers
    assert "completions" not in kinds["Job"]["spec"]


def test_no_replicas_is_one_worker() -> None:
    assert _by_kind(_dask())["DaskCluster"]["spec"]["worker"]["replicas"] == 1


def test_only_a_maximum_scales_from_zero() -> None:
    fn = _dask()
    fn.spec.max_replicas = 4
    assert _by_kind(fn)["DaskAutoscaler"]["spec"] == {"cluster": "crunch", "minimum": 0, "maximum": 4}


def test_only_a_minimum_needs_a_maximum() -> None:
    fn = _dask()
    fn.spec.min_replicas = 2
    with pytest.raises(SpecError, match="1:8") as err:
        fn.to_manifests()
    assert err.value.path == "max_replicas"


def test_min_above_max_is_an_error_for_dask_too() -> None:
    fn = _dask()
    fn.spec.min_replicas, fn.spec.max_replicas = 5, 2
    with pytest.raises(SpecError, match="max_replicas = 2") as err:
        fn.to_manifests()
    assert err.value.path == "min_replicas"


def test_replicas_and_a_range_must_agree() -> None:
    fn = _dask()
    fn.spec.replicas = 3
    fn.spec.min_replicas, fn.spec.max_replicas = 1, 4
    with pytest.raises(SpecError, match="contradicts the range 1:4") as err:
        fn.to_manifests()
    assert err.value.path == "replicas"
    fn.spec.min_replicas = fn.spec.max_replicas = 3
    assert _by_kind(fn)["DaskCluster"]["spec"]["worker"]["replicas"] == 3


@pytest.mark.parametrize("kind", ["job", "mpijob"])
def test_a_range_on_other_kinds_still_says_dask_can(kind: str) -> None:
    fn = mlres.new_function("x", kind=kind, code="pass")
    fn.spec.min_replicas, fn.spec.max_replicas = 1, 4
    with pytest.raises(SpecError, match="'dask' can"):
        fn.to_manifests()


def test_the_magic_line_range_round_trips() -> None:
    args = parse_cell_args("crunch --kind dask --replicas 1:8 --memory 2Gi:4Gi")
    assert to_magic_line(args) == "crunch --kind dask --memory 2Gi:4Gi --replicas 1:8"
    fn = apply_cell_args(mlres.new_function("crunch", kind="dask", code="pass"), args)
    assert (fn.spec.min_replicas, fn.spec.max_replicas) == (1, 8)
    assert _by_kind(fn)["DaskAutoscaler"]["spec"]["maximum"] == 8


@given(low=st.integers(0, 20), high=st.integers(1, 20), fixed=st.none() | st.integers(1, 20))
@settings(max_examples=60, deadline=None)
def test_any_bounds_render_valid_resources_or_a_spec_error(low: int, high: int, fixed: int | None) -> None:
    fn = _dask()
    fn.spec.min_replicas, fn.spec.max_replicas, fn.spec.replicas = low, high, fixed
    if low > high or (fixed is not None and (low, high) != (fixed, fixed)):
        with pytest.raises(SpecError) as err:
            fn.to_manifests()
        assert err.value.path in ("min_replicas", "replicas")
        return
    manifests = fn.to_manifests()
    for m in manifests:
        if m["apiVersion"].startswith("kubernetes.dask.org"):
            validate_custom_resource(m)
    cluster = next(m for m in manifests if m["kind"] == "DaskCluster")
    assert cluster["spec"]["worker"]["replicas"] == low


# -- the resource mapping --------------------------------------------------------------------


def test_the_workers_get_the_functions_resources_and_placement(spot_settings: Settings) -> None:
    fn = _dask()
    fn.spec.min_replicas, fn.spec.max_replicas = 1, 6
    fn.with_requests(mem="2Gi", cpu=1).with_limits(mem="4Gi", cpu=2).gpus(1)
    fn.with_preemption_mode("allow").with_priority_class("low")
    fn.with_node_selection(node_selector={"team": "ml"})
    fn.apply(mlres.mount_pvc("datasets", "data", "/data"))
    fn.set_env("MODE", "fast")
    kinds = _by_kind(fn, spot_settings)
    worker = kinds["DaskCluster"]["spec"]["worker"]["spec"]
    container = worker["containers"][0]
    assert container["resources"] == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
    }
    assert container["args"][:2] == ["dask", "worker"]
    assert container["args"][-4:] == ["--nthreads", "2", "--memory-limit", str(4 * 2**30)]
    assert {"name": "MODE", "value": "fast"} in container["env"]
    assert container["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert worker["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "datasets"}}]
    assert worker["nodeSelector"] == {"team": "ml"}
    assert worker["tolerations"][0]["key"] == "app.iguazio.com/lifecycle"
    assert worker["priorityClassName"] == "igz-workload-low"
    assert "restartPolicy" not in worker
    _validate(fn.to_manifests(spot_settings))


def test_the_scheduler_and_the_job_get_the_service_defaults(spot_settings: Settings) -> None:
    fn = _dask().with_limits(mem="16Gi").gpus(2)
    fn.with_preemption_mode("allow").with_priority_class("low")
    fn.with_node_selection(node_selector={"team": "ml"})
    kinds = _by_kind(fn, spot_settings)
    scheduler = kinds["DaskCluster"]["spec"]["scheduler"]["spec"]
    job_pod = kinds["Job"]["spec"]["template"]["spec"]
    defaults = spot_settings.default_resources
    for pod in (scheduler, job_pod):
        resources = pod["containers"][0]["resources"]
        assert "nvidia.com/gpu" not in resources.get("limits", {})
        assert resources.get("limits", {}).get("memory") == defaults.limits.get("memory")
        assert "team" not in pod.get("nodeSelector", {})
        assert not any(t.get("key") == "app.iguazio.com/lifecycle" for t in pod.get("tolerations", []))
        assert pod.get("priorityClassName") == "igz-workload-medium"
    _validate(fn.to_manifests(spot_settings))


def test_scheduler_resources_can_be_set() -> None:
    fn = _dask().with_scheduler_requests(cpu="500m", mem="1Gi").with_scheduler_limits(mem="2Gi")
    scheduler = _by_kind(fn)["DaskCluster"]["spec"]["scheduler"]["spec"]["containers"][0]
    assert scheduler["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "2Gi"},
    }
    assert fn.spec.scheduler_resources["limits"] == {"memory": "2Gi"}


def test_worker_verbs_are_mlruns_and_only_for_dask() -> None:
    fn = _dask().with_worker_requests(cpu=2).with_worker_limits(mem="8Gi")
    assert fn.spec.worker_resources == {"requests": {"cpu": "2"}, "limits": {"memory": "8Gi"}}
    job = mlres.new_function("j", code="pass")
    for verb in (job.with_worker_limits, job.with_scheduler_limits):
        with pytest.raises(SpecError, match="dask") as err:
            verb(mem="1Gi")
        assert err.value.path == "kind"


def test_a_scheduler_request_above_its_limit_names_both() -> None:
    with pytest.raises(SpecError, match="above limit"):
        _dask().with_scheduler_limits(cpu=1).with_scheduler_requests(cpu=2, patch=True)


def test_the_job_connects_to_the_operators_scheduler_service() -> None:
    fn = _dask()
    fn.spec.min_replicas, fn.spec.max_replicas = 0, 3
    kinds = _by_kind(fn)
    env = kinds["Job"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "DASK_SCHEDULER_ADDRESS", "value": "tcp://crunch-scheduler:8786"} in env
    service = kinds["DaskCluster"]["spec"]["scheduler"]["service"]
    assert service["selector"] == {"dask.org/cluster-name": "crunch", "dask.org/component": "scheduler"}
    job = json.loads(kinds["ConfigMap"]["data"]["job.json"])
    assert job["kind"] == "dask"
    assert job["dask"]["minimum"] == 0
    assert job["dask"]["maximum"] == 3


def test_the_scheduler_address_cannot_be_overridden_by_env() -> None:
    fn = _dask().set_env("DASK_SCHEDULER_ADDRESS", "tcp://elsewhere:8786")
    with pytest.raises(SpecError, match="set by the kind"):
        fn.to_manifests()


def test_dask_jobs_default_to_an_image_with_distributed() -> None:
    kinds = _by_kind(_dask(), Settings(dask_image="example.org/dask:2026"))
    images = {
        kinds["Job"]["spec"]["template"]["spec"]["containers"][0]["image"],
        kinds["DaskCluster"]["spec"]["worker"]["spec"]["containers"][0]["image"],
        kinds["DaskCluster"]["spec"]["scheduler"]["spec"]["containers"][0]["image"],
    }
    assert images == {"example.org/dask:2026"}
    fn = _dask(image="me/mine:1")
    assert {c["image"] for c in _pod_containers(fn)} == {"me/mine:1"}


def _pod_containers(fn: mlres.Function) -> list[dict[str, Any]]:
    kinds = _by_kind(fn)
    cluster = kinds["DaskCluster"]["spec"]
    return [
        kinds["Job"]["spec"]["template"]["spec"]["containers"][0],
        cluster["worker"]["spec"]["containers"][0],
        cluster["scheduler"]["spec"]["containers"][0],
    ]


def test_the_yaml_preview_shows_the_custom_resources() -> None:
    fn = _dask()
    fn.spec.min_replicas, fn.spec.max_replicas = 1, 8
    text = fn.to_yaml()
    assert "kind: DaskCluster" in text
    assert "kind: DaskAutoscaler" in text
    assert "maximum: 8" in text


def test_a_misspelt_field_fails_the_operators_schema() -> None:
    cluster = _by_kind(_dask())["DaskCluster"]
    cluster["spec"]["worker"]["replica"] = 2
    with pytest.raises(Exception, match="replica"):
        validate_custom_resource(cluster)
