from __future__ import annotations

import threading

from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.runs import JobPhase, RunId

from .helpers import NS, Kube, render_run, wait_for


def test_submit_watch_logs_result(backend: KubernetesBackend, kube: Kube) -> None:
    run = render_run("train-1")
    status = backend.submit(run)
    assert status.phase == JobPhase.PENDING

    cm = kube.em.stored("configmaps", NS, "train-1")
    job = kube.job("train-1")
    assert cm is not None
    assert cm["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    assert cm["data"]["main.py"] == run.files["main.py"]

    pod = kube.create_pod("train-1")
    kube.running(pod)
    kube.em.log(NS, pod, "hello", "world")
    lines: list[str] = []
    stop = threading.Event()

    def follow() -> None:
        lines.extend(line.text for line in backend.logs(RunId("train-1"), follow=True, stop=stop))

    t = threading.Thread(target=follow)
    t.start()
    wait_for(lambda: lines == ["hello", "world"], what="live lines")
    kube.em.log(NS, pod, "done")
    kube.terminated(pod, 0, message='{"result": 42}')
    kube.complete("train-1")
    t.join(15)
    assert lines == ["hello", "world", "done"]
    events = list(backend.events(RunId("train-1"), follow=True))
    assert events[-1].phase == JobPhase.SUCCEEDED
    assert backend.status(RunId("train-1")).phase == JobPhase.SUCCEEDED
    assert backend.result(RunId("train-1")) == 42
    assert backend.log_path(RunId("train-1")).read_text().splitlines()[-1].endswith("[0] done")
