"""End to end with real containers: the emulator + a podman-backed kubelet of ours.

Skipped, with the reason, where podman cannot run; on the project's CI machines it must run
(``bash scripts/system-deps.sh`` installs podman and builds the local image).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.errors import BackendError
from jupyter_mlres.core.runs import JobPhase, LogLine, RunId

from .helpers import Kube, render_run, wait_for
from .podman_kubelet import IMAGE, PodmanKubelet

pytestmark = [pytest.mark.podman, pytest.mark.slow]


@pytest.fixture
def kubelet(kube: Kube, podman_workdir: Path) -> Iterator[PodmanKubelet]:
    with PodmanKubelet(kube, podman_workdir) as k:
        yield k


def test_logs_stream_live_and_the_result_comes_back(
    backend: KubernetesBackend, kubelet: PodmanKubelet
) -> None:
    code = (
        "import time\n"
        "def handler():\n"
        "    print('step 1', flush=True)\n"
        "    time.sleep(2)\n"
        "    print('step 2')\n"
        "    return {'accuracy': 0.93}\n"
    )
    backend.submit(render_run("e2e-ok", code=code, image=IMAGE))
    lines: list[tuple[LogLine, JobPhase]] = []
    for line in backend.logs(RunId("e2e-ok"), follow=True):
        lines.append((line, backend.status(RunId("e2e-ok")).phase))
    assert [line.text for line, _ in lines] == ["step 1", "step 2"]
    assert lines[0][1] == JobPhase.RUNNING  # the first line arrived while the job still ran
    assert (lines[1][0].time - lines[0][0].time).total_seconds() >= 1.5  # real timestamps, not end-of-run
    events = list(backend.events(RunId("e2e-ok"), follow=True))
    assert events[-1].phase == JobPhase.SUCCEEDED
    assert backend.result(RunId("e2e-ok")) == {"accuracy": 0.93}


def test_a_memory_limit_produces_oomkilled(backend: KubernetesBackend, kubelet: PodmanKubelet) -> None:
    code = "def handler():\n    blocks = [bytearray(16 * 2**20) for _ in range(40)]\n    return len(blocks)\n"
    run = render_run(
        "e2e-oom",
        code=code,
        image=IMAGE,
        resources={"requests": {"memory": "64Mi"}, "limits": {"memory": "64Mi"}},
    )
    backend.submit(run)
    events = list(backend.events(RunId("e2e-oom"), follow=True))
    oom = [e for e in events if e.reason == "OOMKilled"]
    assert oom, events
    assert "64Mi" in oom[0].message
    assert events[-1].phase == JobPhase.FAILED


def test_cancel_kills_the_container(backend: KubernetesBackend, kubelet: PodmanKubelet) -> None:
    code = "import time\ndef handler():\n    print('started', flush=True)\n    time.sleep(300)\n"
    backend.submit(render_run("e2e-cancel", code=code, image=IMAGE))
    seen: list[str] = []
    stop = threading.Event()
    t = threading.Thread(
        target=lambda: seen.extend(x.text for x in backend.logs(RunId("e2e-cancel"), follow=True, stop=stop)),
        daemon=True,
    )
    t.start()
    wait_for(lambda: seen == ["started"], timeout=60, what="the container to start")
    assert kubelet.running_containers("e2e-cancel")
    started = time.monotonic()
    assert backend.cancel(RunId("e2e-cancel")).phase == JobPhase.CANCELLED
    wait_for(lambda: not kubelet.running_containers("e2e-cancel"), timeout=30, what="the container to go")
    assert time.monotonic() - started < 30  # not the 300 s the job would have slept
    events = list(backend.events(RunId("e2e-cancel"), follow=True))
    assert events[-1].phase == JobPhase.CANCELLED
    stop.set()
    t.join(10)


def test_two_replicas_get_distinct_ranks(backend: KubernetesBackend, kubelet: PodmanKubelet) -> None:
    code = (
        "import os\n"
        "def handler():\n"
        "    print('rank', os.environ['RANK'], 'of', os.environ['WORLD_SIZE'], 'master', os.environ['MASTER_ADDR'])\n"
        "    return int(os.environ['RANK'])\n"
    )
    backend.submit(render_run("e2e-ddp", code=code, image=IMAGE, replicas=2))
    lines = sorted((line.replica, line.text) for line in backend.logs(RunId("e2e-ddp"), follow=True))
    assert lines == [(0, "rank 0 of 2 master e2e-ddp-0.e2e-ddp"), (1, "rank 1 of 2 master e2e-ddp-0.e2e-ddp")]
    assert backend.status(RunId("e2e-ddp")).phase == JobPhase.SUCCEEDED
    assert backend.result(RunId("e2e-ddp")) == 0  # replica 0's return value


def test_a_result_over_4_kib_gets_a_clear_message(backend: KubernetesBackend, kubelet: PodmanKubelet) -> None:
    backend.submit(render_run("e2e-big", code="def handler():\n    return 'x' * 10000\n", image=IMAGE))
    assert list(backend.events(RunId("e2e-big"), follow=True))[-1].phase == JobPhase.SUCCEEDED
    with pytest.raises(BackendError, match="result too large"):
        backend.result(RunId("e2e-big"))
