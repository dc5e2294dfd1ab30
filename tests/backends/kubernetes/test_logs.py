"""Log streams: live, resumed after a cut with no line lost or repeated, kept in a local file."""

from __future__ import annotations

import threading

from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.runs import RunId

from .emulator import RunningEmulator
from .helpers import NS, Kube, render_run, wait_for

SECOND = 1_000_000_000
T0 = 1_790_000_000 * SECOND


def follow_into(backend: KubernetesBackend, run_id: str, sink: list[tuple[int, str]]) -> threading.Thread:
    def run() -> None:
        sink.extend((line.replica, line.text) for line in backend.logs(RunId(run_id), follow=True))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_stream_cut_mid_line_resumes_without_loss_or_duplicates(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    backend.submit(render_run("l1"))
    pod = kube.create_pod("l1")
    kube.running(pod)
    # several lines within the same second: the resumed stream (sinceTime has 1 s precision) repeats them
    cluster.emulator.log(NS, pod, "a", "b", "c", nanos=T0 + 100)
    got: list[tuple[int, str]] = []
    t = follow_into(backend, "l1", got)
    wait_for(lambda: len(got) == 3, what="first lines")
    cluster.emulator.cut_log(NS, pod)
    cluster.emulator.log(NS, pod, "d is a long line that is cut in the middle", "e", nanos=T0 + 200)
    wait_for(lambda: len(got) == 5, what="lines after the cut")
    cluster.emulator.cut_log(NS, pod)
    cluster.emulator.log(NS, pod, "f", nanos=T0 + 2 * SECOND)
    cluster.emulator.log(NS, pod, "g", "h", nanos=T0 + 2 * SECOND + 1)
    kube.terminated(pod, 0)
    kube.complete("l1")
    t.join(20)
    assert [text for _, text in got] == [
        "a",
        "b",
        "c",
        "d is a long line that is cut in the middle",
        "e",
        "f",
        "g",
        "h",
    ]
    log_requests = list(cluster.requests_matching("GET", f"/pods/{pod}/log"))
    assert len(log_requests) >= 3
    assert log_requests[-1].params.get("sinceTime")
    assert all(r.params["timestamps"] == "true" for r in log_requests)
    kept = backend.log_path(RunId("l1")).read_text().splitlines()
    assert [line.split(" ", 3)[3] for line in kept] == [text for _, text in got]


def test_every_replica_is_followed_with_its_prefix(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    backend.submit(render_run("l2", replicas=2))
    p0 = kube.create_pod("l2", 0)
    kube.running(p0)
    got: list[tuple[int, str]] = []
    t = follow_into(backend, "l2", got)
    cluster.emulator.log(NS, p0, "rank 0 up")
    wait_for(lambda: got == [(0, "rank 0 up")], what="replica 0")
    p1 = kube.create_pod("l2", 1)  # starts late
    kube.running(p1)
    cluster.emulator.log(NS, p1, "rank 1 up")
    wait_for(lambda: (1, "rank 1 up") in got, what="replica 1")
    kube.terminated(p0, 0)
    kube.terminated(p1, 0)
    kube.complete("l2")
    t.join(20)
    assert sorted(got) == [(0, "rank 0 up"), (1, "rank 1 up")]
    kept = backend.log_path(RunId("l2")).read_text()
    assert "[0] rank 0 up" in kept
    assert "[1] rank 1 up" in kept


def test_tail_and_a_last_line_without_newline(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    backend.submit(render_run("l3"))
    pod = kube.create_pod("l3")
    kube.running(pod)
    cluster.emulator.log(NS, pod, *[f"line {i}" for i in range(50)])
    kube.terminated(pod, 0)
    kube.complete("l3")
    assert [line.text for line in backend.logs(RunId("l3"), follow=True)][-1] == "line 49"
    assert [line.text for line in backend.logs(RunId("l3"), tail=2)] == ["line 48", "line 49"]


def test_the_kept_log_outlives_the_pods(make_backend: object, kube: Kube, cluster: RunningEmulator) -> None:
    first = make_backend()  # type: ignore[operator]
    first.submit(render_run("l4"))
    pod = kube.create_pod("l4")
    kube.running(pod)
    cluster.emulator.log(NS, pod, "kept 1", "kept 2")
    kube.terminated(pod, 0)
    kube.complete("l4")
    assert [x.text for x in first.logs(RunId("l4"), follow=True)] == ["kept 1", "kept 2"]
    first.close()
    kube.request("DELETE", f"/api/v1/namespaces/{NS}/pods/{pod}")  # e.g. the Job's TTL ran out
    second = make_backend()  # type: ignore[operator]  # a new kernel, same Jupyter data dir
    assert [x.text for x in second.logs(RunId("l4"))] == ["kept 1", "kept 2"]
