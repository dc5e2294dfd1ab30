"""Cost of resolving a job's placement: preemption mode x the user's own scheduling.

Run: ``python benchmarks/bench_scheduling.py [N]``. Prints the median and p95 per call in
microseconds for each mode on a cluster with two spot labels and a spot toleration, with a
user's node selector, a two-term required affinity, pod anti-affinity and tolerations.
Asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from jupyter_mlres.core.scheduling import PREEMPTION_MODES, resolve_scheduling
from jupyter_mlres.core.settings import Settings

SETTINGS = Settings(
    preemptible_node_selector={
        "app.iguazio.com/lifecycle": "preemptible",
        "cloud.google.com/gke-spot": "true",
    },
    preemptible_tolerations=[{"key": "spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
)
AFFINITY: dict[str, Any] = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
            ]
        }
    },
    "podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 50,
                "podAffinityTerm": {
                    "labelSelector": {"matchLabels": {"app": "train"}},
                    "topologyKey": "kubernetes.io/hostname",
                },
            }
        ]
    },
}
TOLERATIONS = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(f"resolve_scheduling, {n} calls per mode (microseconds per call)")
    for mode in PREEMPTION_MODES:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            resolve_scheduling(
                mode=mode,
                node_name=None,
                node_selector={"gpu": "a100"},
                affinity=AFFINITY,
                tolerations=TOLERATIONS,
                settings=SETTINGS,
            )
            times.append((time.perf_counter() - start) * 1e6)
        times.sort()
        print(
            f"  {mode:<10} median {statistics.median(times):7.1f}   p95 {times[int(len(times) * 0.95)]:7.1f}"
        )


if __name__ == "__main__":
    main()
