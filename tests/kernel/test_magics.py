"""%%mlrun and %mlrun through a real IPython shell, against a scripted FakeBackend."""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Callable

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlres import new_function
from jupyter_mlres.core.runs import JobPhase, RunId
from jupyter_mlres.kernel.magics import MlresMagics
from jupyter_mlres.kernel.session import Run
from jupyter_mlres.testing import FakeBackend


def _drive(fake: FakeBackend, script: Callable[[RunId], None]) -> threading.Thread:
    """Play the backend from another thread once the cell has submitted its run."""

    def play() -> None:
        while not fake.submitted:
            time.sleep(0.01)
        script(fake.submitted[-1].run_id)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


def _interrupt_while_watching(run_id: RunId) -> None:
    # Submitted; give the cell a moment to reach its blocking wait, then press "interrupt".
    time.sleep(0.3)
    _thread.interrupt_main()


def _succeed(fake: FakeBackend, *lines: str, result: object = None) -> Callable[[RunId], None]:
    def script(run_id: RunId) -> None:
        fake.start(run_id)
        fake.emit_log(run_id, *lines)
        fake.finish(run_id, result=result)

    return script


# -- errors: one line, nothing runs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--spot maybe", "--spot: invalid value 'maybe'; allowed: allow, constrain, prevent, none"),
        ("--cpu 2GB", "--cpu: invalid value '2GB'"),
        ("--cpus 2", "did you mean --cpu?"),
        ("--handler main", "--handler: invalid value 'main' (not defined in the cell)"),
        ("--backend nowhere", "backend: invalid value 'nowhere' (unknown backend); allowed: "),
        ("--backend nowhere --dry-run", "backend: invalid value 'nowhere' (unknown backend); allowed: "),
    ],
)
def test_bad_options_are_one_usage_error_line_and_nothing_is_submitted(
    ip: InteractiveShell, fake: FakeBackend, line: str, message: str
) -> None:
    backend = "" if "--backend" in line else " --backend fake"
    with pytest.raises(UsageError) as info:
        ip.run_cell_magic("mlrun", line + backend, "print('hi')\n")
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert fake.submitted == []


def test_capture_size_limit_is_a_usage_error(
    ip: InteractiveShell, magics: MlresMagics, fake: FakeBackend
) -> None:
    magics.settings = magics.settings.__class__(capture_size_limit=1000)
    ip.run_cell("blob = 'x' * 5000", store_history=True)
    with pytest.raises(UsageError, match=r"capture\.blob: invalid value '4\.9 KiB'"):
        ip.run_cell_magic("mlrun", "--backend fake", "print(len(blob))\n")
    assert fake.submitted == []


# -- dry run ------------------------------------------------------------------------------------


def test_dry_run_shows_the_capture_and_the_manifests(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_cell(
        "import json\nthreshold = 0.5\ndef score(x):\n    return json.dumps(x > threshold)\n",
        store_history=True,
    )
    result = ip.run_cell_magic(
        "mlrun", "train --cpu 1:2 --memory 1Gi --param n=3 --dry-run --backend fake", "print(score(0.7))\n"
    )
    assert result is None
    assert fake.submitted == []
    out = capsys.readouterr().out
    assert out.startswith(
        "# %%mlrun train --cpu 1:2 --memory 1Gi --param n=3 --backend fake\n"
        "# captured from the notebook:\n"
        "#   json: import json\n"
        "#   threshold: float by value (21 B)\n"
        "#   score: def score (2 lines of source)\n"
    )
    assert "kind: Job" in out
    assert "cpu: '2'" in out
    assert "def score(x):" in out  # the job's code, with the captured function first
    assert '"params": {"n": 3}' in out
    assert "(180 lines" in out or "the jupyter_mlres job runner" in out


# -- watching with the fake backend -------------------------------------------------------------


def test_watched_cell_prints_deterministic_text_and_returns_the_handle(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = _drive(fake, _succeed(fake, "hello", "world", result={"acc": 0.9}))
    run = ip.run_cell_magic(
        "mlrun", "train --backend fake --handler main", "def main():\n    print('hello')\n"
    )
    driver.join()
    assert isinstance(run, Run)
    assert run.state == JobPhase.SUCCEEDED
    assert run.result == {"acc": 0.9}
    assert run.logs() == "hello\nworld\n"
    assert run.name.startswith("train-")
    assert capsys.readouterr().out.splitlines() == [
        "train: Pending",
        "train: Running",
        "train: Succeeded",
        "--- log ---",
        "hello",
        "world",
        "---",
    ]


def test_a_failed_job_shows_its_traceback_not_a_kernel_error(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(run_id: RunId) -> None:
        fake.start(run_id)
        fake.emit_log(run_id, "Traceback (most recent call last):", "ValueError: boom", stream="stderr")
        fake.finish(run_id, JobPhase.FAILED, reason="Error", message="exit code 1")

    driver = _drive(fake, fail)
    run = ip.run_cell_magic("mlrun", "--backend fake", "raise ValueError('boom')\n")
    driver.join()
    assert run.state == JobPhase.FAILED
    assert run.result is None
    out = capsys.readouterr().out
    assert "job: Failed" in out
    assert "ValueError: boom" in out


def test_log_tail_is_bounded_and_says_how_much_was_left_out(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    driver = _drive(fake, _succeed(fake, *(f"line {i}" for i in range(100))))
    run = ip.run_cell_magic("mlrun", "--backend fake", "pass\n")
    driver.join()
    out = capsys.readouterr().out.splitlines()
    assert out[-7:] == ["--- log (last 5 of 100) ---", *(f"line {i}" for i in range(95, 100)), "---"]
    assert len(run.logs(tail=3).splitlines()) == 3


def test_detach_returns_at_once_and_wait_catches_up(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ip.run_cell_magic("mlrun", "--backend fake --detach", "pass\n")
    assert run.state == JobPhase.PENDING
    assert f"%mlrun cancel {run.name}" in capsys.readouterr().out
    _succeed(fake, "done", result=7)(run.name)
    assert run.wait(timeout=10) == JobPhase.SUCCEEDED
    assert run.result == 7
    assert capsys.readouterr().out.splitlines() == [
        "job: Pending",
        "job: Running",
        "job: Succeeded",
        "--- log ---",
        "done",
        "---",
    ]


def test_stream_mode_prints_log_lines_as_they_come_and_counts_what_it_skips(
    ip: InteractiveShell, magics: MlresMagics, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    magics.view = "stream"
    run = ip.run_cell_magic("mlrun", "--backend fake --detach", "pass\n")
    _succeed(fake, *(f"line {i}" for i in range(100)))(run.name)
    assert run._watcher is not None
    assert run._watcher.done.wait(10)
    capsys.readouterr()
    run.wait()
    assert capsys.readouterr().out.splitlines() == [
        "job: Pending",
        "job: Running",
        "job: Succeeded",
        f"... 95 more lines; full log: fake://{run.name}",
        *(f"line {i}" for i in range(95, 100)),
    ]


def test_interrupting_the_watch_detaches_and_says_how_to_cancel(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupter = _drive(fake, _interrupt_while_watching)
    run = ip.run_cell_magic("mlrun", "--backend fake", "pass\n")
    interrupter.join()
    out = capsys.readouterr().out
    assert f"Interrupted: {run.name} keeps running on fake" in out
    assert f"`%mlrun cancel {run.name}` or run.cancel()" in out
    assert fake.cancelled == []
    assert run.cancel() == JobPhase.CANCELLED


def test_interrupt_can_cancel_when_configured(
    ip: InteractiveShell, magics: MlresMagics, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    magics.cancel_on_interrupt = True
    interrupter = _drive(fake, _interrupt_while_watching)
    run = ip.run_cell_magic("mlrun", "--backend fake", "pass\n")
    interrupter.join()
    assert fake.cancelled == [run.name]
    assert f"cancelled {run.name}" in capsys.readouterr().out


# -- %mlrun subcommands -------------------------------------------------------------------------


def test_jobs_logs_cancel_and_attach(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ip.run_cell_magic("mlrun", "etl --backend fake --detach", "pass\n")
    fake.start(run.name)
    fake.emit_log(run.name, "one", "two", "three")
    capsys.readouterr()

    ip.run_line_magic("mlrun", "jobs --backend fake")
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["RUN", "FUNCTION", "BACKEND", "STATE", "CREATED"]
    assert table[1].split()[:4] == [run.name, "etl", "fake", "Running"]

    ip.run_line_magic("mlrun", f"logs {run.name} --tail 2")
    assert capsys.readouterr().out == "two\nthree\n"

    attached = ip.run_line_magic("mlrun", f"attach {run.name} --detach")
    assert attached.name == run.name
    capsys.readouterr()

    ip.run_line_magic("mlrun", f"cancel {run.name}")
    assert capsys.readouterr().out == f"{run.name}: Cancelled\n"
    assert fake.cancelled == [run.name]
    assert attached.wait(timeout=10) == JobPhase.CANCELLED


def test_logs_follow_prints_until_the_run_ends(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ip.run_cell_magic("mlrun", "--backend fake --detach", "pass\n")
    fake.emit_log(run.name, "early")
    capsys.readouterr()

    def later(run_id: RunId) -> None:
        time.sleep(0.3)
        fake.emit_log(run_id, "late", replica=1)
        fake.finish(run_id)

    driver = _drive(fake, later)
    ip.run_line_magic("mlrun", f"logs {run.name} --follow")
    driver.join()
    assert capsys.readouterr().out.splitlines() == ["early", "[1] late"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "frobnicate",
            "%mlrun: invalid value 'frobnicate'; allowed: jobs, logs, attach, cancel, rm, preview, panel, settings",
        ),
        ("logs", "RUN (a run name from `%mlrun jobs`)"),
        ("logs x --tail zero", "logs --tail: invalid value 'zero'"),
        ("cancel no-such-run --backend fake", "RunNotFound: no run named 'no-such-run'"),
        ("jobs --all", "unknown option"),
    ],
)
def test_line_magic_errors(ip: InteractiveShell, fake: FakeBackend, line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("mlrun", line)
    assert message in str(info.value)


def test_preview_settings_and_help(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("mlrun", "preview train --gpus 1")
    out = capsys.readouterr().out
    assert out.startswith("# %%mlrun train --gpus 1\n")
    assert "nvidia.com/gpu: '1'" in out
    ip.run_line_magic("mlrun", "settings")
    assert "log_tail_lines = 5" in capsys.readouterr().out
    ip.run_line_magic("mlrun", "")
    assert "--volume KIND:SOURCE:PATH" in capsys.readouterr().out


def test_panel_option_opens_the_panel_bound_to_the_cell(ip: InteractiveShell) -> None:
    from jupyter_mlres.widgets.panel import ResourcePanel

    panel = ip.run_cell_magic("mlrun", "train --cpu 2 --panel", "pass\n")
    assert isinstance(panel, ResourcePanel)


# -- the SDK ------------------------------------------------------------------------------------


def test_function_run_returns_the_same_handle(ip: InteractiveShell, fake: FakeBackend) -> None:
    fn = new_function("sdk", code="def main(x):\n    return x * 2\n", handler="main").with_requests(cpu="1")
    run = fn.run(params={"x": 21}, backend=fake, watch=False)
    assert fake.submitted[-1].files["job.json"].find('"x": 21') >= 0
    _succeed(fake, result=42)(run.name)
    assert run.wait(timeout=10) == JobPhase.SUCCEEDED
    assert run.result == 42
    assert repr(run) == f"Run({run.name!r}, backend='fake', state=Succeeded)"
    assert "<th style='text-align:left'>result</th><td>42</td>" in run._repr_html_()
