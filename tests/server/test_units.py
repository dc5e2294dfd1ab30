"""The server's pieces without HTTP: the run service, JSON shapes, form values."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_mlres.backends.base import Backend
from jupyter_mlres.core.cellargs import CellArgs
from jupyter_mlres.core.errors import BackendUnavailable, RunNotFound, SpecError
from jupyter_mlres.core.runs import RenderedRun, RunId
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.server.follow import LogPump
from jupyter_mlres.server.preview import apply_form_values, form_values
from jupyter_mlres.server.schemas import notebook_path
from jupyter_mlres.server.service import RunService, default_backend_names, describe_error
from jupyter_mlres.testing import FakeBackend


def _submit(backend: FakeBackend, run_id: str) -> None:
    backend.submit(RenderedRun(RunId(run_id), run_id.split("-")[0], manifests=[], files={}))


def _service(**backends: FakeBackend | Exception) -> RunService:
    def factory(name: str, settings: Settings) -> Backend:
        made = backends[name]
        if isinstance(made, Exception):
            raise made
        return made

    return RunService(Settings(), list(backends), factory)


def test_runs_of_all_backends_newest_first_and_a_broken_one_reported() -> None:
    a, b = FakeBackend(name="a"), FakeBackend(name="b")
    _submit(a, "first-1")
    _submit(b, "second-1")
    _submit(a, "third-1")
    service = _service(a=a, b=b, k8s=ConnectionRefusedError("[Errno 111] refused\nmore detail"))
    runs, states = service.list_runs()
    assert [r.run_id for r in runs] == ["third-1", "second-1", "first-1"]
    assert [(s.name, s.available) for s in states] == [("a", True), ("b", True), ("k8s", False)]
    assert states[2].error == "backend 'k8s' is unavailable: ConnectionRefusedError: [Errno 111] refused"


def test_unknown_backend_is_not_found_and_broken_backend_unavailable() -> None:
    service = _service(k8s=BackendUnavailable("no kubeconfig"))
    with pytest.raises(RunNotFound, match="no backend 'nope'"):
        service.status("nope", "x")
    with pytest.raises(BackendUnavailable, match="no kubeconfig"):
        service.status("k8s", "x")


def test_a_backend_bug_becomes_a_backend_error_with_one_line() -> None:
    class Buggy(FakeBackend):
        def cancel(self, run_id: RunId) -> object:  # type: ignore[override]
            raise OSError("disk on fire\nTraceback ...")

    service = _service(buggy=Buggy(name="buggy"))
    with pytest.raises(Exception, match=r"backend 'buggy' failed: OSError: disk on fire$") as info:
        service.cancel("buggy", "x")
    assert type(info.value).__name__ == "BackendError"


def test_log_page_from_an_offset_and_tail() -> None:
    fake = FakeBackend()
    _submit(fake, "job-1")
    fake.emit_log(RunId("job-1"), *[str(i) for i in range(10)])
    service = _service(fake=fake)
    page, next_offset = service.log_page("fake", "job-1", offset=4, limit=3)
    assert [(o, line.text) for o, line in page] == [(4, "4"), (5, "5"), (6, "6")]
    assert next_offset == 7
    page, next_offset = service.log_page("fake", "job-1", tail=2)
    assert [(o, line.text) for o, line in page] == [(8, "8"), (9, "9")]
    assert next_offset == 10


def test_log_pump_stops_when_asked_and_holds_a_bounded_buffer() -> None:
    fake = FakeBackend()
    _submit(fake, "job-1")
    fake.emit_log(RunId("job-1"), *[str(i) for i in range(100)])
    service = _service(fake=fake)
    pump = LogPump(lambda stop: service.follow_log("fake", "job-1", 0, stop), capacity=10)
    pump.start()
    got: list[int] = []
    while len(got) < 30:
        threading.Event().wait(0.05)
        batch, done, error = pump.drain(1000)
        # The thread waits while the buffer is full: never more than `capacity` lines queued.
        assert len(batch) <= 10
        assert error is None
        assert not done
        got.extend(o for o, _ in batch)
    assert got == list(range(len(got)))
    pump.close()
    pump._thread.join(timeout=5)
    assert not pump._thread.is_alive()


def test_describe_error_is_one_bounded_line() -> None:
    assert describe_error(SpecError("cpu", "x", "2")) == "cpu: invalid value 'x'; allowed: 2"
    assert describe_error(RuntimeError("a\nb")) == "RuntimeError: a"
    assert describe_error(ValueError()) == "ValueError"
    assert len(describe_error(RuntimeError("x" * 1000))) == 300


@pytest.mark.parametrize(
    ("settings", "env", "names"),
    [
        (Settings(), {}, ["local"]),
        (Settings(), {"KUBECONFIG": "/k"}, ["local", "kubernetes"]),
        (Settings(), {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, ["local", "kubernetes"]),
        (Settings(kube_context="prod"), {}, ["local", "kubernetes"]),
        (Settings(backend="kubernetes"), {}, ["local", "kubernetes"]),
    ],
)
def test_default_backends(settings: Settings, env: dict[str, str], names: list[str]) -> None:
    assert default_backend_names(settings, {"HOME": "/nonexistent", **env}) == names


@pytest.mark.parametrize(
    ("notebook", "root", "shown"),
    [
        ("/home/me/work/a.ipynb", "/home/me", "work/a.ipynb"),
        ("/elsewhere/a.ipynb", "/home/me", "/elsewhere/a.ipynb"),
        ("work/a.ipynb", "/home/me", "work/a.ipynb"),
        ("", "/home/me", ""),
    ],
)
def test_notebook_path_is_relative_to_the_server_root(notebook: str, root: str, shown: str) -> None:
    assert notebook_path(notebook, root) == shown


_quantity = st.sampled_from(["", "1", "500m", "2", "0.5", "1:2", ":4", "100m:1"])
_memory = st.sampled_from(["", "512Mi", "8Gi", "1Gi:2Gi", ":1G"])
_count = st.one_of(st.just(""), st.integers(0, 64).map(str))


@given(
    cpu=_quantity,
    memory=_memory,
    gpus=_count,
    spot=st.sampled_from(["", "allow", "constrain", "prevent", "none"]),
    replicas=st.one_of(st.just(""), st.integers(1, 32).map(str), st.just("1:8")),
)
def test_form_values_round_trip_through_the_magic_grammar(
    cpu: str, memory: str, gpus: str, spot: str, replicas: str
) -> None:
    values = {"cpu": cpu, "memory": memory, "gpus": gpus, "spot": spot, "replicas": replicas}
    args = apply_form_values(CellArgs(name="train", volumes=("pvc:d:/d",)), values)
    assert args.volumes == ("pvc:d:/d",)
    shown = form_values(args)
    assert {k: shown[k] for k in values} == values
    assert apply_form_values(args, shown) == args
