"""Render + strict validation + YAML of a typical spec: median and p95, in milliseconds.

Run from the repository root: ``python benchmarks/bench_render.py [N]``. Prints figures; asserts
nothing. The baseline is ``json.dumps`` of the same manifests in the same process, so the figures
can be compared across machines.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import kubernetes_validate

import jupyter_mlres as mlres
from tests.core.k8s_schema import VERSIONS, validate_all

SETTINGS = mlres.Settings.from_dict(
    {
        "preemptible_node_selector": {"node-lifecycle": "spot"},
        "preemptible_tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
        "priority_classes": {"high": "high", "medium": "medium", "low": "low"},
        "default_resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "16Gi"}},
    }
)


def typical() -> mlres.Function:
    fn = mlres.new_function(
        "train", image="pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime", code="import torch\n" * 40
    )
    fn.with_requests(cpu=4, mem="8Gi").with_limits(cpu=8, mem="16Gi").gpus(1)
    fn.apply(mlres.mount_pvc("datasets", "data", "/data")).apply(mlres.mount_shm("2Gi"))
    fn.with_preemption_mode("allow").with_priority_class("high").set_env("EPOCHS", 10)
    fn.spec.replicas = 2
    return fn


def measure(label: str, action: Callable[[], Any], n: int) -> float:
    action()  # warm caches (schemas, validators)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    median = statistics.median(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"{label:<46} median {median:8.3f} ms   p95 {p95:8.3f} ms")
    return median


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    fn = typical()
    manifests = fn.to_manifests(SETTINGS)
    print(f"typical spec: {len(manifests)} manifests ({', '.join(m['kind'] for m in manifests)}), n={n}")
    baseline = measure("baseline: json.dumps(manifests)", lambda: json.dumps(manifests), n)
    render = measure("render: fn.to_run(settings)", lambda: fn.to_run(SETTINGS), n)
    validate = measure(
        f"strict validate, cached ({' + '.join(VERSIONS)})", lambda: validate_all(manifests), n
    )
    yaml_ms = measure("YAML: fn.to_yaml(settings) (renders too)", lambda: fn.to_yaml(SETTINGS), n)
    total = measure(
        "render + validate + YAML",
        lambda: (validate_all(fn.to_run(SETTINGS).manifests), fn.to_yaml(SETTINGS)),
        n,
    )
    measure(
        "kubernetes_validate.validate, uncached (1.37)",
        lambda: [kubernetes_validate.validate(m, VERSIONS[-1], strict=True) for m in manifests],
        max(5, n // 30),
    )
    print(
        f"ratios to baseline: render {render / baseline:.1f}x, validate {validate / baseline:.1f}x, "
        f"YAML {yaml_ms / baseline:.1f}x, total {total / baseline:.1f}x"
    )


if __name__ == "__main__":
    main()
