"""From manifests to the local plan: what is applied, what is named as not honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mlres.backends.local.plan import build_plan, cpu_count_for, mount_env_var
from jupyter_mlres.core.errors import SubmitError
from jupyter_mlres.core.function import Function, new_function
from jupyter_mlres.core.runs import RenderedRun, RunId
from jupyter_mlres.core.settings import ResourceDefaults, Settings

from .conftest import make_run


def _plan(run: RenderedRun, settings: Settings | None = None):  # type: ignore[no-untyped-def]
    return build_plan(run, settings or Settings(), run_dir=Path("/runs/r"), python="/py", cwd="/work")


def test_limits_become_numbers() -> None:
    plan = _plan(make_run("", limits={"cpu": "1500m", "memory": "2Gi", "nvidia.com/gpu": "2"}))
    assert plan.cpu_limit == 1.5
    assert plan.memory_limit == 2 * 2**30
    assert plan.memory_limit_text == "2Gi"
    assert (plan.gpus, plan.gpu_resource) == (2, "nvidia.com/gpu")


@pytest.mark.parametrize(("limit", "cores"), [(0.1, 1), (1.0, 1), (1.5, 2), (2.0, 2), (7.01, 8)])
def test_a_cpu_limit_pins_to_its_ceiling(limit: float, cores: int) -> None:
    assert cpu_count_for(limit) == cores


def test_other_extended_resources_are_named() -> None:
    plan = _plan(make_run("", limits={"cpu": "1", "example.com/fpga": "1"}, requests={"cpu": "1"}))
    assert plan.not_honoured == ["resources.limits.example.com/fpga='1'"]


def _rendered(fn: Function, settings: Settings | None = None) -> list[str]:
    """What the NotHonoured event of ``fn``'s local run would list (core's real renderer)."""
    fn.spec.code = fn.spec.code or "print(1)"
    return _plan(fn.to_run(settings or Settings(), run_id=f"{fn.name}-1"), settings).not_honoured


@pytest.mark.parametrize("kind", ["job", "dask"])
def test_a_default_run_names_nothing(kind: str) -> None:
    # The image, the Job's TTL and retries come from the built-in settings: nobody asked for them.
    assert _rendered(new_function("f", kind=kind)) == []


def test_what_the_user_or_the_admin_chose_is_named() -> None:
    assert _rendered(new_function("f", image="my/image:1")) == ["container.image='my/image:1'"]
    admin = Settings(default_image="org/ml:2", job_ttl_seconds=600, backoff_limit=2)
    assert _rendered(new_function("f"), admin) == [
        "job.backoffLimit=2",
        "job.ttlSecondsAfterFinished=600",
        "container.image='org/ml:2'",
    ]
    assert _rendered(new_function("f", kind="dask"), Settings(dask_image="org/dask:1")) == [
        "container.image='org/dask:1'"
    ]


def test_requests_are_named_only_without_a_limit() -> None:
    # With a limit the limit is enforced locally; a request alone changes nothing here.
    capped = new_function("f").with_requests(cpu="1", mem="1Gi").with_limits(cpu="2", mem="2Gi")
    assert _rendered(capped) == []
    uncapped = new_function("f").with_requests(cpu="1", mem="256Mi").with_limits(mem="1Gi")
    assert _rendered(uncapped) == [
        'resources.requests={"cpu":"1"} without limits '
        "(nothing is reserved locally and only limits are enforced)"
    ]
    admin = Settings(default_resources=ResourceDefaults(requests={"memory": "1Gi"}))
    assert _rendered(new_function("f"), admin) == [
        'resources.requests={"memory":"1Gi"} without limits '
        "(nothing is reserved locally and only limits are enforced)"
    ]


def test_retries_and_init_containers_are_named() -> None:
    run = make_run(
        "", job={"backoffLimit": 2}, pod={"initContainers": [{"name": "fetch"}], "restartPolicy": "OnFailure"}
    )
    text = "; ".join(_plan(run).not_honoured)
    assert "job.backoffLimit=2" in text
    assert "pod.initContainers" in text
    assert "pod.restartPolicy='OnFailure'" in text


def test_env_resolution_follows_kubernetes() -> None:
    run = make_run(
        "",
        replicas=2,
        env=[
            {"name": "A", "value": "1"},
            {"name": "B", "value": "$(A)-$(MISSING)-$$(A)"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
            {"name": "GONE", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}},
        ],
    )
    run = RenderedRun(
        run_id=run.run_id,
        function=run.function,
        manifests=[
            {"kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "fast"}},
            *run.manifests,
        ],
        files=run.files,
    )
    plan = _plan(run)
    assert plan.env["A"] == "1"
    assert plan.env["B"] == "1-$(MISSING)-$(A)"
    assert plan.env["NS"] == "local"
    assert plan.env["CM"] == "fast"
    assert plan.env["MLRES_CODE_DIR"] == "/runs/r/code"
    assert "MLRES_RESULT_PATH" not in plan.env
    assert plan.rank_env == ["RANK"]
    assert plan.pod_name_env == ["POD"]
    assert plan.replicas == 2
    assert any(item.startswith("env GONE from") for item in plan.not_honoured)


def test_volumes_map_to_host_directories() -> None:
    settings = Settings(
        local_volume_map={"pvc:data": "/host/data", "v3io:users": "/host/v3io", "configmap:cfg": "/host/cfg"}
    )
    run = make_run(
        "",
        volumes=[
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {
                "name": "v3io",
                "flexVolume": {"driver": "v3io/fuse", "options": {"container": "users", "subPath": "/me"}},
            },
            {"name": "cfg", "configMap": {"name": "cfg"}},
            {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
            {"name": "scratch", "emptyDir": {}},
            {"name": "host", "hostPath": {"path": "/var/data"}},
            {"name": "lost", "persistentVolumeClaim": {"claimName": "lost"}},
        ],
        mounts=[
            {"name": "data", "mountPath": "/data", "subPath": "train"},
            {"name": "v3io", "mountPath": "/v3io"},
            {"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True},
            {"name": "shm", "mountPath": "/dev/shm"},
            {"name": "scratch", "mountPath": "/scratch"},
            {"name": "host", "mountPath": "/var/data"},
            {"name": "lost", "mountPath": "/lost"},
        ],
    )
    plan = _plan(run, settings)
    hosts = {m.mount_path: m.host_path for m in plan.mounts}
    assert hosts == {
        "/data": "/host/data/train",
        "/v3io": "/host/v3io/me",
        "/etc/cfg": "/host/cfg",
        "/dev/shm": "/dev/shm",
        "/scratch": "/runs/r/volumes/scratch",
        "/var/data": "/var/data",
        "/lost": None,
    }
    assert "/mlres/code" not in hosts, "the code bundle is found through MLRES_CODE_DIR"
    assert any("pvc:lost" in item and "local_volume_map" in item for item in plan.not_honoured)


def test_mount_env_var_names() -> None:
    assert mount_env_var("/data") == "MLRES_MOUNT_DATA"
    assert mount_env_var("/home/jovyan/data-1") == "MLRES_MOUNT_HOME_JOVYAN_DATA_1"


def test_a_run_without_a_job_is_refused() -> None:
    run = RenderedRun(run_id=RunId("r"), function="f", manifests=[{"kind": "ConfigMap"}], files={})
    with pytest.raises(SubmitError, match="no Job manifest"):
        _plan(run)
