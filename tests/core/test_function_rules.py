"""Function-level rules: kinds, replicas and ranges, names, env, Job fields, atomic changes."""

from __future__ import annotations

import json
from typing import Any

import pytest

import jupyter_mlres as mlres
from jupyter_mlres import Settings, SpecError
from tests.core.k8s_schema import validate_all


def _fn(**kwargs: Any) -> mlres.Function:
    return mlres.new_function("train", code="pass", **kwargs)


def _job(fn: mlres.Function, settings: Settings | None = None) -> dict[str, Any]:
    return fn.to_manifests(settings)[-1]


# -- kinds and replicas -----------------------------------------------------------------------


def test_replicas_assignment_validates() -> None:
    fn = _fn()
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(SpecError) as err:
            fn.spec.replicas = bad
        assert err.value.path == "replicas"
    assert fn.spec.replicas is None


def test_unknown_spec_field_is_an_error() -> None:
    with pytest.raises(AttributeError, match="replicas"):
        _fn().spec.replica = 2  # type: ignore[attr-defined]


def test_mpijob_renders_an_indexed_job_with_replicas() -> None:
    fn = mlres.new_function("mpi", kind="mpijob", code="pass")
    fn.spec.replicas = 4
    manifests = fn.to_manifests()
    assert [m["kind"] for m in manifests] == ["ConfigMap", "Service", "Job"]
    service = manifests[1]
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"jupyter-mlres.io/run-id": "mpi"}
    job = manifests[-1]
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (4, 4)
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    rank = next(e for e in env if e["name"] == "RANK")
    assert "job-completion-index" in rank["valueFrom"]["fieldRef"]["fieldPath"]
    assert {"name": "MASTER_PORT", "value": "29500"} in env
    validate_all(manifests)


def test_dask_is_a_kind() -> None:
    assert mlres.new_function("d", kind="dask").kind == "dask"


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(SpecError, match="job, mpijob"):
        mlres.new_function("x", kind="spark")


def test_a_replica_range_on_a_job_says_dask_can() -> None:
    fn = _fn()
    fn.spec.min_replicas = 1
    fn.spec.max_replicas = 4
    with pytest.raises(SpecError, match="'dask' can") as err:
        fn.to_manifests()
    assert err.value.path == "min_replicas"


def test_min_above_max_is_an_error() -> None:
    fn = _fn()
    fn.spec.min_replicas = 3
    fn.spec.max_replicas = 2
    with pytest.raises(SpecError, match="max_replicas"):
        fn.to_manifests()


def test_a_degenerate_range_that_agrees_with_replicas_is_fine() -> None:
    fn = _fn()
    fn.spec.replicas = 2
    fn.spec.min_replicas = fn.spec.max_replicas = 2
    assert _job(fn)["spec"]["completions"] == 2
    fn.spec.replicas = 3
    with pytest.raises(SpecError):
        fn.to_manifests()


# -- names and labels ---------------------------------------------------------------------------


def test_names_are_dns1123_and_at_most_63() -> None:
    fn = mlres.new_function("My_Training Job " + "x" * 80, code="pass")
    assert len(fn.name) <= 63
    manifests = fn.to_manifests()
    for manifest in manifests:
        assert len(manifest["metadata"]["name"]) <= 63
    validate_all(manifests)


def test_bad_run_id_is_an_error() -> None:
    with pytest.raises(SpecError) as err:
        _fn().to_run(run_id="Not_A_Name")
    assert err.value.path == "run_id"


def test_labels_on_every_object() -> None:
    fn = _fn().apply(mlres.mount_v3io(access_key="k"))
    fn.spec.replicas = 2
    run = fn.to_run(run_id="train-x1")
    for manifest in run.manifests:
        assert manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "jupyter-mlres"
        assert manifest["metadata"]["labels"]["jupyter-mlres.io/run-id"] == "train-x1"
    assert [m["kind"] for m in run.manifests] == ["ConfigMap", "Secret", "Service", "Job"]


def test_namespace_from_settings() -> None:
    for manifest in _fn().to_manifests(Settings(namespace="team-a")):
        assert manifest["metadata"]["namespace"] == "team-a"


# -- Job fields ---------------------------------------------------------------------------------


def test_job_fields_from_settings_and_spec() -> None:
    settings = Settings(job_ttl_seconds=600, backoff_limit=2, active_deadline_seconds=7200)
    spec = _job(_fn(), settings)["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"], spec["activeDeadlineSeconds"]) == (
        2,
        600,
        7200,
    )
    fn = _fn()
    fn.spec.retries = 5
    fn.spec.active_deadline_seconds = 60
    spec = _job(fn, Settings(job_ttl_seconds=None))["spec"]
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (5, 60)
    assert "ttlSecondsAfterFinished" not in spec


def test_image_defaults_from_settings() -> None:
    container = _fn().to_pod_spec(Settings(default_image="python:3.12"))["containers"][0]
    assert container["image"] == "python:3.12"
    fn = _fn(image="my/image:1")
    assert fn.to_pod_spec(Settings(default_image="python:3.12"))["containers"][0]["image"] == "my/image:1"
    with pytest.raises(SpecError):
        fn.spec.image = "has space"


def test_params_must_be_json() -> None:
    with pytest.raises(SpecError) as err:
        _fn().to_run(run_id="r1", params={"x": object()})
    assert err.value.path == "params"
    run = _fn().to_run(run_id="r1", params={"lr": 0.1})
    assert json.loads(run.files["job.json"])["params"] == {"lr": 0.1}


def test_returns_are_validated_and_rendered_into_job_json() -> None:
    fn = _fn()
    fn.spec.returns = ["model_score", "n_rows"]
    assert fn.spec.returns == ("model_score", "n_rows")
    assert json.loads(fn.to_run(run_id="r1").files["job.json"])["returns"] == ["model_score", "n_rows"]
    for bad in ("score", ["a", "a"], ["1x"], ["a.b"], ["class"], [3]):
        with pytest.raises(SpecError) as err:
            fn.spec.returns = bad
        assert err.value.path == "returns"
    fn.spec.returns = None
    assert json.loads(fn.to_run(run_id="r1").files["job.json"])["returns"] == []


def test_code_larger_than_a_configmap_is_an_error() -> None:
    with pytest.raises(SpecError, match="ConfigMap") as err:
        mlres.new_function("big", code="x = 1\n" * 200_000).to_manifests()
    assert err.value.path == "code"


# -- env ---------------------------------------------------------------------------------------


def test_set_env_and_from_secret() -> None:
    fn = _fn().set_env("A", 1).set_env("A", "2").set_env_from_secret("TOKEN", "creds", "token")
    env = fn.to_pod_spec()["containers"][0]["env"]
    assert env[-2:] == [
        {"name": "A", "value": "2"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
    ]
    validate_all(fn.to_manifests())


@pytest.mark.parametrize("name", ["MLRES_RUN_ID", "1ABC", "has space", ""])
def test_bad_env_names(name: str) -> None:
    with pytest.raises(SpecError):
        _fn().set_env(name, "x")


def test_replica_env_is_reserved_with_replicas() -> None:
    fn = _fn().set_env("WORLD_SIZE", "8")
    fn.to_manifests()  # fine for a single pod
    fn.spec.replicas = 2
    with pytest.raises(SpecError, match="WORLD_SIZE"):
        fn.to_manifests()


# -- atomic changes ----------------------------------------------------------------------------


def test_failed_calls_leave_the_function_unchanged() -> None:
    fn = _fn().with_requests(cpu=1).with_limits(cpu=2).set_env("A", "1")
    fn.apply(mlres.mount_pvc("claim", "data", "/data"))
    before = repr(fn), fn.spec.resources, fn.spec.volumes, fn.spec.env
    attempts = [
        lambda: fn.with_limits(cpu="500m"),
        lambda: fn.with_requests(mem="lots"),
        lambda: fn.gpus(1, gpu_type="bad/type/x"),
        lambda: fn.apply(mlres.mount_configmap("cfg", "/data")),
        lambda: fn.set_envs({"B": "2", "MLRES_X": "3"}),
        lambda: fn.with_node_selection(node_name="node-1", node_selector={"bad key!": "x"}),
        lambda: fn.with_preemption_mode("maybe"),
        lambda: fn.apply(lambda f: (f.set_env("C", "3"), f.with_limits(cpu="1m"))),
    ]
    for attempt in attempts:
        with pytest.raises(SpecError):
            attempt()
        assert (repr(fn), fn.spec.resources, fn.spec.volumes, fn.spec.env) == before
    assert fn.spec.node_name is None


def test_rendering_does_not_change_the_function(spot_settings: Settings) -> None:
    fn = _fn().with_preemption_mode("allow").gpus(1, gpu_type="a100")
    before = repr(fn)
    manifests = fn.to_manifests(spot_settings)
    manifests[-1]["spec"]["template"]["spec"]["tolerations"].append({"key": "x"})
    assert repr(fn) == before
    assert fn.to_manifests(spot_settings) != manifests
