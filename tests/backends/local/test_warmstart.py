"""The warm start server: runs forked from a preloaded interpreter behave as fresh ones, and
anything unexpected falls back to starting the run cold (never to a wrong or lost run)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from jupyter_mlres.backends.local import LocalBackend, warmstart
from jupyter_mlres.backends.local.notify import Notifier, Wakeup
from jupyter_mlres.core.runs import JobPhase
from jupyter_mlres.core.settings import Settings

from .conftest import log_text, make_run, wait


@pytest.fixture
def warm(settings: Settings) -> Iterator[LocalBackend]:
    backend = LocalBackend(settings)
    assert backend.prewarm(wait=60)
    yield backend
    for status in backend.list_runs():
        if not status.phase.is_terminal:
            backend.cancel(status.run_id)


@pytest.fixture
def own_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary directory of the test's own: no server of other tests answers there, and
    the servers the test starts there are stopped after it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    yield tmp
    for sock in tmp.glob("mlres-*/*.sock"):
        if warmstart.wait_ready(sock, 0):
            os.kill(_peer_pid(sock), signal.SIGTERM)


def _peer_pid(where: Path) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(where))
        pid: int = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
    return pid


def _server_pid(backend: LocalBackend) -> int:
    where = warmstart.address(backend.python)
    assert where is not None
    return _peer_pid(where)


def test_a_warm_run_is_forked_by_the_server_and_behaves_as_a_fresh_interpreter(
    warm: LocalBackend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Set after the server started: the job must see the kernel's environment at submit time.
    monkeypatch.setenv("MLRES_TEST_MARK", "set-after-the-server-started")
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    monkeypatch.chdir(tmp_path)
    run = make_run(
        """
        import atexit, os, signal, sys, threading, time
        import jupyter_mlres
        atexit.register(lambda: print("atexit ran", flush=True))
        threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished", flush=True))).start()
        print("name", __name__)
        print("mark", os.environ.get("MLRES_TEST_MARK"))
        print("tz", time.strftime("%z"))
        print("cwd", os.getcwd())
        print("package", hasattr(jupyter_mlres, "new_function"))
        print("sigterm default", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
        print("fds", sorted(int(fd) for fd in os.listdir("/proc/self/fd"))[:3])
        print("forked", "warmserver" in open("/proc/self/cmdline").read())
        """
    )
    warm.submit(run)
    status, _ = wait(warm, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED, log_text(warm, run.run_id)
    lines = log_text(warm, run.run_id).splitlines()
    assert lines[:8] == [
        "name __main__",
        "mark set-after-the-server-started",
        "tz +0530",
        f"cwd {tmp_path}",
        "package True",  # the real package, not the server's partial copy of it
        "sigterm default True",
        "fds [0, 1, 2]",  # only the listing's own descriptor besides: nothing of the server's
        "forked True",  # no interpreter started for it
    ]
    # A non-daemon thread is waited for and atexit handlers run, as at interpreter exit.
    assert lines[8:] == ["thread finished", "atexit ran"]


def test_a_run_whose_env_changes_python_startup_gets_a_fresh_interpreter(
    warm: LocalBackend, tmp_path: Path
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mlres_extra_module.py").write_text("VALUE = 'from PYTHONPATH'\n")
    run = make_run(
        "import mlres_extra_module\nprint(mlres_extra_module.VALUE)\nprint(hash('mlres'))\n"
        "print('forked', 'warmserver' in open('/proc/self/cmdline').read())\n",
        env=[{"name": "PYTHONPATH", "value": str(extra)}, {"name": "PYTHONHASHSEED", "value": "7"}],
    )
    warm.submit(run)
    status, _ = wait(warm, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED, log_text(warm, run.run_id)
    expected = subprocess.run(
        [sys.executable, "-c", "print(hash('mlres'))"],
        env={**os.environ, "PYTHONHASHSEED": "7"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert log_text(warm, run.run_id).splitlines() == ["from PYTHONPATH", expected, "forked False"]


def test_the_submitting_process_is_woken_by_the_supervisor() -> None:
    ours, theirs = socket.socketpair()
    wakeup = Wakeup(ours)
    notifier = Notifier(theirs.fileno())
    seen = wakeup.generation
    notifier.changed()
    notifier.flush()
    wakeup.wait(seen, timeout=60)  # returns at the poke; a missed poke would fail below
    assert wakeup.generation != seen
    assert not wakeup.closed
    seen = wakeup.generation
    theirs.close()  # the supervisor ended
    wakeup.wait(seen, timeout=60)
    assert wakeup.closed


def test_a_notifier_outlives_the_kernel_that_listened() -> None:
    ours, theirs = socket.socketpair()
    notifier = Notifier(theirs.fileno())
    ours.close()
    for _ in range(3):  # the kernel is gone: pokes are dropped, never an error for the run
        notifier.changed()
        notifier.flush()
    theirs.close()


def test_without_a_server_a_run_starts_cold_and_starts_one_for_the_next(
    settings: Settings, own_tempdir: Path
) -> None:
    backend = LocalBackend(settings)
    where = warmstart.address(backend.python)
    assert where is not None
    assert where.parent == own_tempdir / f"mlres-{os.getuid()}"
    run = make_run("print('cold')\n")
    backend.submit(run)
    assert wait(backend, run.run_id)[0].phase == JobPhase.SUCCEEDED
    assert warmstart.wait_ready(where, 60)
    server = _server_pid(backend)
    second = make_run("print('warm')\n")
    backend.submit(second)
    assert wait(backend, second.run_id)[0].phase == JobPhase.SUCCEEDED
    supervisor = json.loads((backend.run_dir(second.run_id) / "supervisor.json").read_text())["pid"]
    assert json.loads((backend.run_dir(run.run_id) / "supervisor.json").read_text())["pid"] != supervisor
    assert log_text(backend, second.run_id) == "warm"
    # Its socket removed, the server ends by itself; the next run starts cold again.
    where.unlink()
    psutil.Process(server).wait(30)
    third = make_run("print('cold again')\n")
    backend.submit(third)
    assert wait(backend, third.run_id)[0].phase == JobPhase.SUCCEEDED
    assert warmstart.wait_ready(where, 60)  # and the next server is on its way


def test_a_directory_that_is_not_private_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    (tmp_path / f"mlres-{os.getuid()}").mkdir(mode=0o755)
    os.chmod(tmp_path / f"mlres-{os.getuid()}", 0o755)
    assert warmstart.address(sys.executable) is None
    backend = LocalBackend(Settings(local_run_root=str(tmp_path / "runs")))
    assert backend.prewarm(wait=0.1) is False
    run = make_run("print('still runs')\n")
    backend.submit(run)
    assert wait(backend, run.run_id)[0].phase == JobPhase.SUCCEEDED
    assert list((tmp_path / f"mlres-{os.getuid()}").iterdir()) == []


def test_warm_start_can_be_turned_off(settings: Settings, own_tempdir: Path) -> None:
    backend = LocalBackend(dataclasses.replace(settings, local_warm_start=False))
    assert backend.prewarm(wait=0.1) is False
    run = make_run("print('cold')\n")
    backend.submit(run)
    assert wait(backend, run.run_id)[0].phase == JobPhase.SUCCEEDED
    # Starting a server creates its log file at once (the socket only once it is up).
    assert not any(own_tempdir.glob("mlres-*/warm-*"))


def test_a_bad_request_is_answered_with_an_error_and_starts_nothing(warm: LocalBackend) -> None:
    where = warmstart.address(warm.python)
    assert where is not None
    server = psutil.Process(_server_pid(warm))
    before = {c.pid for c in server.children()}
    body = b'{"not": "a request"}'
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(where))
        r, w = os.pipe()
        socket.send_fds(sock, [struct.pack(">I", len(body)) + body], [w])
        os.close(r)
        os.close(w)
        sock.shutdown(socket.SHUT_WR)
        answer = json.loads(sock.recv(65536))
    assert "KeyError" in answer["error"]
    assert {c.pid for c in server.children()} <= before
    # and it still serves
    run = make_run("print('ok')\n")
    warm.submit(run)
    assert wait(warm, run.run_id)[0].phase == JobPhase.SUCCEEDED


def test_only_one_server_serves_an_address(warm: LocalBackend) -> None:
    where = warmstart.address(warm.python)
    assert where is not None
    server = _server_pid(warm)
    second = subprocess.run(
        [warm.python, "-c", warmstart._SERVER_BOOT, str(where)], capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0  # it saw the first one and left at once
    assert _server_pid(warm) == server


def test_an_idle_server_exits_by_itself(tmp_path: Path) -> None:
    address = tmp_path / "s.sock"
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parents[3])!r})\n"
        "from jupyter_mlres.backends.local.warmserver import serve\n"
        f"sys.exit(serve({str(address)!r}, idle_seconds=0.5))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert done.returncode == 0
    assert list(tmp_path.iterdir()) == []  # neither its socket nor its lock file is left


def test_a_run_outlives_the_server_that_forked_it(settings: Settings, own_tempdir: Path) -> None:
    backend = LocalBackend(settings)
    assert backend.prewarm(wait=60)
    run = make_run("import time\nprint('up', flush=True)\ntime.sleep(1)\nprint('done')\n")
    backend.submit(run)
    server = psutil.Process(_server_pid(backend))
    server.send_signal(signal.SIGKILL)
    server.wait(30)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED, log_text(backend, run.run_id)
    assert log_text(backend, run.run_id).splitlines() == ["up", "done"]
