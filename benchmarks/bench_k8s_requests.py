"""API requests the Kubernetes backend makes, counted on the emulator (prints numbers).

1. One run's lifecycle (submit -> running -> N log lines -> succeeded, following events and logs)
   for several N: the count must not grow with N (no polling, one log stream per pod).
2. 50 runs tracked at once by one backend, idle: requests per second while nothing happens.

Run from the repository root: ``python benchmarks/bench_k8s_requests.py``.
"""

from __future__ import annotations

import collections
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.runs import RunId
from jupyter_mlres.core.settings import Settings
from tests.backends.kubernetes.emulator import RunningEmulator
from tests.backends.kubernetes.helpers import NS, Kube, render_run
from tests.backends.kubernetes.rbac import backend_requests, required_permission


def lifecycle(lines: int, tmp: Path) -> collections.Counter[str]:
    with RunningEmulator() as cluster:
        kube = Kube(cluster)
        kube.add_node("n")
        backend = KubernetesBackend(Settings(), host=cluster.url, namespace=NS, log_dir=tmp)
        backend.submit(render_run("bench"))
        pod = kube.create_pod("bench")
        kube.running(pod)
        got: list[str] = []
        t = threading.Thread(
            target=lambda: got.extend(x.text for x in backend.logs(RunId("bench"), follow=True))
        )
        t.start()
        for start in range(0, lines, 100):
            cluster.emulator.log(NS, pod, *[f"line {i}" for i in range(start, min(lines, start + 100))])
            time.sleep(0.05)
        kube.terminated(pod, 0, message='{"result": 1}')
        kube.complete("bench")
        t.join(60)
        list(backend.events(RunId("bench"), follow=True))
        backend.result(RunId("bench"))
        assert len(got) == lines, (len(got), lines)
        backend.close()
        counts = collections.Counter(
            " ".join(required_permission(r)[1:][::-1]) for r in backend_requests(cluster.requests)
        )
    return counts


def idle(runs: int, seconds: float, tmp: Path) -> tuple[int, float]:
    with RunningEmulator() as cluster:
        kube = Kube(cluster)
        kube.add_node("n")
        backend = KubernetesBackend(Settings(), host=cluster.url, namespace=NS, log_dir=tmp, preflight=False)
        for i in range(runs):
            backend.submit(render_run(f"idle-{i}"))
        for i in range(runs):
            list(backend.events(RunId(f"idle-{i}"), follow=False))
        time.sleep(2)  # let every watch open
        before = len(backend_requests(cluster.requests))
        time.sleep(seconds)
        after = len(backend_requests(cluster.requests))
        backend.close()
    return after - before, (after - before) / seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print("requests per run lifecycle (submit -> succeeded, events + logs followed):")
        for n in (10, 1000, 5000):
            counts = lifecycle(n, Path(tmp))
            detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            print(f"  {n:>5} log lines: {sum(counts.values()):>3} requests ({detail})")
        sent, rate = idle(50, 20.0, Path(tmp))
        print(
            f"50 runs tracked, idle for 20 s: {sent} requests ({rate:.2f}/s); "
            "each run holds 2 watches renewed every 300 s (server timeout) -> ~0.33 req/s expected long-run"
        )


if __name__ == "__main__":
    main()
