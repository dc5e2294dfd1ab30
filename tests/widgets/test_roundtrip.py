"""Round trip as a property: random valid specs -> panel -> magic line -> the same spec."""

from __future__ import annotations

from functools import cache

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlres.core.cellargs import CellArgs, apply_cell_args, parse_cell_args
from jupyter_mlres.core.function import new_function
from jupyter_mlres.core.settings import GpuModel, ResourceDefaults, Settings
from jupyter_mlres.widgets.panel import ResourcePanel

CLUSTER = Settings(
    default_resources=ResourceDefaults(requests={"cpu": "500m", "memory": "1Gi"}, limits={"memory": "4Gi"}),
    preemptible_node_selector={"node-lifecycle": "spot"},
    preemptible_tolerations=[{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
    priority_classes={"high": "prio-high", "medium": "prio-medium", "low": "prio-low"},
    allowed_priority_classes=["batch-overnight"],
    gpu_models={"a100": GpuModel({"gpu.example.com/model": "A100"})},
)
CODE = "print('hello')\n"
CPU = ["100m", "250m", "500m", "1", "1500m", "2", "4"]  # ascending
MEMORY = ["256Mi", "512Mi", "1Gi", "2Gi", "4Gi", "8Gi"]  # ascending
VOLUMES = [
    "pvc:datasets:/data",
    "pvc:models:/models:ro",
    "configmap:app-config:/etc/app",
    "secret:db-creds:/etc/db",
    "v3io:bigdata/x:/v3io",
    "shm:2Gi",
]


@st.composite
def request_limit(
    draw: st.DrawFn, values: list[str], default_request: int, default_limit: int | None
) -> tuple[str | None, str | None] | None:
    """(request, limit) that respects request <= limit, service defaults included."""
    if draw(st.booleans()):
        return None
    cap = len(values) - 1 if default_limit is None else default_limit
    request = draw(st.none() | st.integers(0, cap))
    floor = default_request if request is None else request
    limit = draw(st.none() | st.integers(floor, len(values) - 1))
    if request is None and limit is None:
        return None
    return (
        None if request is None else values[request],
        None if limit is None else values[limit],
    )


@st.composite
def cell_args(draw: st.DrawFn) -> CellArgs:
    gpus = draw(st.none() | st.integers(0, 4))
    labels = draw(st.dictionaries(st.sampled_from(["team", "zone", "tier"]), st.sampled_from(["a", "b-1"])))
    return CellArgs(
        name=draw(st.sampled_from(["train", "job-1"])),
        image=draw(st.sampled_from([None, "python:3.12-slim", "registry.example.com/ml/train:1.0"])),
        cpu=draw(request_limit(CPU, CPU.index("500m"), None)),
        memory=draw(request_limit(MEMORY, MEMORY.index("1Gi"), MEMORY.index("4Gi"))),
        gpus=gpus,
        gpu_type=None if gpus is None else draw(st.sampled_from([None, "nvidia.com/gpu", "a100"])),
        replicas=draw(st.none() | st.integers(1, 8)),
        volumes=tuple(draw(st.lists(st.sampled_from(VOLUMES), unique=True, max_size=4))),
        spot=draw(st.sampled_from([None, "allow", "constrain", "prevent", "none"])),
        priority=draw(st.sampled_from([None, "high", "medium", "low", "batch-overnight"])),
        node_selector=tuple(labels.items()),
        params=draw(st.sampled_from([(), (("lr", 0.1), ("epochs", 3))])),
        env=draw(st.sampled_from([(), (("MODE", "fast"),)])),
        backend=draw(st.sampled_from([None, "local", "fake"])),
    )


@cache
def shared_panel() -> ResourcePanel:
    # Building ~200 widgets is the slow part; loading new values is what the property is about.
    return ResourcePanel(code=CODE, settings=CLUSTER, backends=["local", "fake"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=cell_args())
def test_panel_magic_line_round_trip(args: CellArgs) -> None:
    panel = shared_panel()
    panel.load(args)
    assert panel.errors == {}
    assert panel.cell_args == args

    line = panel.magic()
    parsed = parse_cell_args(line.removeprefix("%%mlrun "))
    assert parsed == args

    fn = new_function(parsed.name or "job", code=CODE, settings=CLUSTER)
    apply_cell_args(fn, parsed)
    assert yaml.safe_load(panel.preview_text) == fn.to_pod_spec(CLUSTER)
