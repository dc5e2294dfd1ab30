"""Thousands of random specs: each raises SpecError with a path, or renders manifests that pass
strict schema validation for the oldest and newest Kubernetes versions we support."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import jupyter_mlres as mlres
from jupyter_mlres import Settings, SpecError
from jupyter_mlres.core.volumes import parse_volume_spec
from tests.core.k8s_schema import VERSIONS, validate_all

SECRET = "v3io-inline-secret-key"

SETTINGS = [
    Settings(),
    Settings.from_dict(
        {
            "namespace": "team-a",
            "preemptible_node_selector": {"lifecycle": "spot"},
            "preemptible_tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
            "priority_classes": {"high": "p-high", "medium": "p-medium"},
            "allowed_priority_classes": ["default-priority"],
            "default_resources": {
                "requests": {"cpu": "100m", "memory": "256Mi"},
                "limits": {"memory": "2Gi"},
            },
            "default_node_selector": {"pool": "jobs"},
            "gpu_models": {"a100": {"node_selector": {"gpu": "a100"}}},
            "auto_mount": "auto",
            "default_volume": "pvc:home:/home/jovyan",
            "active_deadline_seconds": 3600,
            "backoff_limit": 2,
        }
    ),
    Settings(auto_mount="manual", default_volume="shm:512Mi", job_ttl_seconds=None),
]


def _mostly(valid: list[Any], invalid: list[Any]) -> Callable[[random.Random], Any]:
    """Mostly valid values: with ~15 fields, about half of the specs get as far as rendering."""

    def pick(rnd: random.Random) -> Any:
        return rnd.choice(invalid) if invalid and rnd.random() < 0.04 else rnd.choice(valid)

    return pick


cpu = _mostly(
    ["500m", "0.5", "2", "1e3", "100m", "1.5", "1m", 0.25, 4, None], ["0", "2 cores", "-1", "0.0001"]
)
memory = _mostly(
    ["512Mi", "1Gi", "8Gi", "1G", "100M", "1e9", 2**30, None], ["0", "2 GB", "1GiB", "5mi", "500m"]
)
volume = _mostly(
    [
        "pvc:data:/data",
        "pvc:data:/data:ro",
        "configmap:app-config:/etc/app",
        "secret:creds:/var/secrets",
        "v3io:projects/p1:/v3io",
        "hostpath:/mnt/x:/x",
        "shm:1Gi",
    ],
    ["shm:0", "pvc:data:relative", "nfs:x:/y", "pvc:other:/data", "configmap:x:/mlres/code"],
)
label_key = _mostly(["zone", "pool", "lifecycle", "gpu", "example.com/disk"], ["bad key!", "x" * 64])
label_value = _mostly(["a", "b", "spot", "", "ssd"], ["bad value!"])
toleration = _mostly(
    [
        {"key": "spot", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoExecute", "tolerationSeconds": 60},
        {"operator": "Exists"},
        {"key": "y", "toleration_seconds": 5, "effect": "NoExecute"},
    ],
    [{"key": "x", "operator": "Sometimes"}],
)
affinity = _mostly(
    [
        None,
        {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
        {
            "node_affinity": {
                "preferred_during_scheduling_ignored_during_execution": [
                    {
                        "weight": 5,
                        "preference": {"match_expressions": [{"key": "disk", "operator": "Exists"}]},
                    }
                ]
            }
        },
    ],
    [
        {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}},
        {"podAffinity": "nope"},
    ],
)


def make_plan(rnd: random.Random) -> dict[str, Any]:
    """A random spec as plain data. Drawing from one seeded Random keeps generation cheap (the
    time goes into rendering and validating); Hypothesis picks, replays and reports the seed."""

    def sometimes(make: Callable[[], Any]) -> Any:
        return make() if rnd.random() < 0.5 else None

    return {
        "name": _mostly(["train", "My_Job", "etl-2", "x" * 70, "3d-model"], ["!!!"])(rnd),
        "kind": rnd.choice(["job", "job", "mpijob"]),
        "requests": sometimes(lambda: (cpu(rnd), memory(rnd))),
        "limits": sometimes(lambda: (cpu(rnd), memory(rnd), rnd.random() < 0.5)),
        "gpus": sometimes(
            lambda: (
                _mostly([0, 1, 2, 8], [-1])(rnd),
                _mostly(["nvidia.com/gpu", "amd.com/gpu", "a100"], ["h100", "gpu/x"])(rnd),
            )
        ),
        "replicas": sometimes(lambda: _mostly([1, 2, 4], [0])(rnd)),
        "range": (rnd.randint(0, 3), rnd.randint(0, 3)) if rnd.random() < 0.15 else None,
        "volumes": [volume(rnd) for _ in range(rnd.randint(0, 3))],
        "v3io_inline": rnd.random() < 0.3,
        "auto_mount": rnd.random() < 0.3,
        "mode": sometimes(lambda: _mostly(["allow", "constrain", "prevent", "none"], ["often"])(rnd)),
        "priority": sometimes(
            lambda: _mostly(["high", "medium", "default-priority", None], ["low", "urgent"])(rnd)
        ),
        "node": sometimes(
            lambda: (
                _mostly([None, "node-1"], ["Bad_Node"])(rnd),
                {label_key(rnd): label_value(rnd) for _ in range(rnd.randint(0, 3))},
                affinity(rnd),
                [toleration(rnd) for _ in range(rnd.randint(0, 2))],
            )
        ),
        "env": sometimes(
            lambda: (
                _mostly(["A", "PATH_X"], ["WORLD_SIZE", "1BAD", "MLRES_X"])(rnd),
                rnd.choice(["1", 2, True]),
            )
        ),
        "retries": sometimes(lambda: _mostly([0, 3], [-1])(rnd)),
        "defaults": rnd.random() < 0.2,
        "run_id": _mostly([None, "train-abc12"], ["Bad_Run", "r" * 64])(rnd),
        "settings": rnd.randrange(len(SETTINGS)),
    }


def build(plan: dict[str, Any]) -> mlres.Function:
    fn = mlres.new_function(plan["name"], kind=plan["kind"], code="print(1)")
    if plan["requests"]:
        fn.with_requests(cpu=plan["requests"][0], mem=plan["requests"][1])
    if plan["limits"]:
        fn.with_limits(cpu=plan["limits"][0], mem=plan["limits"][1], patch=plan["limits"][2])
    if plan["gpus"]:
        fn.gpus(*plan["gpus"])
    if plan["replicas"] is not None:
        fn.spec.replicas = plan["replicas"]
    if plan["range"]:
        fn.spec.min_replicas, fn.spec.max_replicas = plan["range"]
    for text in plan["volumes"]:
        fn.apply(parse_volume_spec(text, "volume"))
    if plan["v3io_inline"]:
        fn.apply(
            mlres.mount_v3io(
                name="v3", access_key=SECRET, volume_mounts=[mlres.VolumeMount("/v3", "projects/a")]
            )
        )
    if plan["auto_mount"]:
        fn.apply(mlres.auto_mount())
    if plan["mode"]:
        fn.with_preemption_mode(plan["mode"])
    if plan["priority"]:
        fn.with_priority_class(plan["priority"])
    if plan["node"]:
        node_name, node_selector, node_affinity, tolerations = plan["node"]
        fn.with_node_selection(node_name, node_selector, node_affinity, tolerations)
    if plan["env"]:
        fn.set_env(*plan["env"])
    if plan["retries"] is not None:
        fn.spec.retries = plan["retries"]
    if plan["defaults"]:
        fn.with_default_resources(False)
    return fn


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**32))
def test_random_specs_raise_with_a_path_or_render_valid_manifests(seed: int) -> None:
    plan = make_plan(random.Random(seed))
    note(repr(plan))
    cluster = SETTINGS[plan["settings"]]
    error: SpecError | None = None
    try:
        fn = build(plan)
        run = fn.to_run(cluster, run_id=plan["run_id"])
    except SpecError as e:
        error = e
    if error is not None:
        assert error.path
        assert str(error).startswith(error.path)
        assert SECRET not in str(error)
        event("SpecError")
        return
    event("rendered")
    manifests = list(run.manifests)
    validate_all(manifests)
    assert [m["kind"] for m in manifests][:: len(manifests) - 1] == ["ConfigMap", "Job"]
    for manifest in manifests:
        assert len(manifest["metadata"]["name"]) <= 63 or manifest["kind"] == "Secret"
    if plan["v3io_inline"]:
        assert SECRET not in fn.to_yaml(cluster)
        assert SECRET not in repr(manifests)


def test_fast_validator_agrees_with_kubernetes_validate() -> None:
    """The cached validator in k8s_schema is kubernetes_validate's strict check, only faster."""
    fn = mlres.new_function("train", code="pass").with_requests(cpu=1).gpus(1)
    fn.apply(mlres.mount_v3io(access_key="k")).apply(mlres.mount_shm("1Gi"))
    fn.spec.replicas = 2
    manifests = fn.to_manifests(SETTINGS[1])
    for version in VERSIONS:
        for manifest in manifests:
            kubernetes_validate.validate(manifest, version, strict=True)
    validate_all(manifests)
    broken = yaml.safe_load(yaml.safe_dump(manifests[-1]))
    broken["spec"]["template"]["spec"]["containers"][0]["cpu"] = "2"  # a typo'd field
    for version in VERSIONS:
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, version, strict=True)
    with pytest.raises(Exception, match="cpu"):
        validate_all([broken])
