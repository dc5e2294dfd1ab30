"""Kernel-side latency of the resource panel: from a field change to the new preview value.

Setting a child widget's ``.value`` runs the panel's observer synchronously (parse the fields
with the magic grammar, apply them to the function, render with core, emit annotated YAML, diff,
HTML), so the time around the assignment is the whole kernel-side cost of one change.

    python benchmarks/bench_panel.py [--changes 400]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from jupyter_mlres.core.settings import GpuModel, ResourceDefaults, Settings
from jupyter_mlres.widgets.panel import ResourcePanel

CLUSTER = Settings(
    default_resources=ResourceDefaults(requests={"cpu": "500m", "memory": "1Gi"}, limits={"memory": "4Gi"}),
    preemptible_node_selector={"node-lifecycle": "spot"},
    preemptible_tolerations=[{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
    priority_classes={"high": "prio-high", "medium": "prio-medium", "low": "prio-low"},
    gpu_models={"a100": GpuModel({"gpu.example.com/model": "A100"})},
)
CODE = "import time\nfor i in range(3):\n    print('step', i)\n    time.sleep(0.1)\n"


def changes(panel: ResourcePanel) -> list[Callable[[int], None]]:
    """A mix of edits a user makes: quantities, a dropdown, a volume row, a label row."""
    volume = panel.volumes.add()
    volume.inputs["source"].value = "claim"
    volume.inputs["path"].value = "/data"
    label = panel.node_selector.add()
    label.key.value = "team"
    label.value.value = "group"
    modes = ["allow", "constrain", "prevent", "none"]
    return [
        lambda i: setattr(panel.cpu.request, "value", f"{100 + i % 900}m"),
        lambda i: setattr(panel.memory.limit, "value", f"{2 + i % 30}Gi"),
        lambda i: setattr(panel.spot.dropdown, "value", modes[i % 4]),
        lambda i: setattr(volume.inputs["source"], "value", f"claim-{i % 50}"),
        lambda i: setattr(label.value, "value", f"group-{i % 50}"),
        lambda i: setattr(panel.replicas.count, "value", str(1 + i % 4)),
    ]


def measure(view: str, count: int) -> list[float]:
    panel = ResourcePanel(code=CODE, settings=CLUSTER, backends=["local"])
    panel.view.value = view
    edits = changes(panel)
    samples: list[float] = []
    for i in range(count):
        before = panel.preview.value
        start = time.perf_counter()
        edits[i % len(edits)](i)
        samples.append(time.perf_counter() - start)
        if panel.errors or panel.preview.value == before:
            raise SystemExit(f"change {i} did not produce a new valid preview: {panel.errors}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=400)
    options = parser.parse_args()
    measure("pod", 30)  # warm-up: imports, caches
    for view in ("pod", "manifests"):
        samples = sorted(measure(view, options.changes))
        ms = [s * 1000 for s in samples]
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        print(
            f"{view:<9} changes={len(ms)} median={statistics.median(ms):.2f} ms "
            f"p95={p95:.2f} ms mean={statistics.fmean(ms):.2f} ms max={ms[-1]:.2f} ms"
        )


if __name__ == "__main__":
    main()
