"""%%mlrun end to end on the real local backend: real processes, real capture, real results."""

from __future__ import annotations

import psutil
import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlres.core.runs import JobPhase
from jupyter_mlres.kernel.magics import MlresMagics
from jupyter_mlres.kernel.view import RunModel


def test_script_mode_runs_the_body_top_to_bottom(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ip.run_cell_magic(
        "mlrun", "hello --cpu 1 --memory 256Mi", "for i in range(3):\n    print('step', i)\n"
    )
    assert run.state == JobPhase.SUCCEEDED
    assert run.logs() == "step 0\nstep 1\nstep 2\n"
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "hello: Pending"
    assert out[-6:] == ["hello: Succeeded", "--- log ---", "step 0", "step 1", "step 2", "---"]


def test_handler_gets_params_and_captured_names_and_returns_a_result(ip: InteractiveShell) -> None:
    ip.run_cell(
        "import math\n"
        "import collections\n"
        "offset = 10\n"
        "square = lambda v: v * v\n"
        "class Scaler:\n"
        "    def __init__(self, k):\n"
        "        self.k = k\n"
        "    def __call__(self, v):\n"
        "        return v * self.k\n"
        "scaler = Scaler(2)\n"
        "def helper(n):\n"
        "    return math.isqrt(n) + offset\n",
        store_history=True,
    )
    body = (
        "def main(n, label='x'):\n"
        "    counts = collections.Counter(label)\n"
        "    return {'helper': helper(n), 'square': square(n), 'scaled': scaler(n), 'label': label, 'count': counts['a']}\n"
    )
    run = ip.run_cell_magic("mlrun", "calc --handler main --param n=16 --param label=abc", body)
    assert run.state == JobPhase.SUCCEEDED, run.logs()
    assert run.result == {"helper": 14, "square": 256, "scaled": 32, "label": "abc", "count": 1}


def test_requested_variables_come_back_as_the_result(ip: InteractiveShell) -> None:
    body = "rows = [3, 1, 2]\nn_rows = len(rows)\nmodel_score = sum(rows) / 8\n"
    run = ip.run_cell_magic("mlrun", "score --return model_score --return n_rows", body)
    assert run.state == JobPhase.SUCCEEDED, run.logs()
    assert run.result == {"model_score": 0.75, "n_rows": 3}

    missing = ip.run_cell_magic("mlrun", "score --return n_cols", body)
    assert missing.state == JobPhase.FAILED
    assert missing.result is None
    assert "'n_cols' not defined" in missing.logs()


def test_job_failure_shows_the_traceback_in_the_output(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    run = ip.run_cell_magic("mlrun", "broken", "print('before')\n1 / 0\n")
    assert run.state == JobPhase.FAILED
    assert run.result is None
    out = capsys.readouterr().out
    assert "broken: Failed" in out
    assert "ZeroDivisionError: division by zero" in out
    assert run.logs().startswith("before\n")


def test_env_and_replicas_reach_the_job(ip: InteractiveShell) -> None:
    run = ip.run_cell_magic(
        "mlrun",
        "ranks --replicas 2 --env GREETING=hi",
        "import os\nprint(os.environ['GREETING'], os.environ['RANK'], os.environ['WORLD_SIZE'])\n",
    )
    assert run.state == JobPhase.SUCCEEDED, run.logs()
    assert sorted(run.logs().splitlines()) == ["[0] hi 0 2", "[1] hi 1 2"]


def test_detach_then_cancel_a_real_process(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    run = ip.run_cell_magic(
        "mlrun", "sleeper --detach", "import time\nprint('started', flush=True)\ntime.sleep(60)\n"
    )
    assert not run.state.is_terminal
    ip.run_line_magic("mlrun", f"cancel {run.name}")
    assert run.wait(timeout=30) == JobPhase.CANCELLED
    ip.run_line_magic("mlrun", "jobs")
    listing = capsys.readouterr().out
    assert run.name in listing


def test_attach_from_a_new_session_finds_the_run(ip: InteractiveShell, magics: MlresMagics) -> None:
    run = ip.run_cell_magic("mlrun", "again", "print('from the first kernel')\n")
    magics.settings = magics.settings  # drops cached backends and handles: as a fresh kernel would
    magics._runs.clear()
    attached = ip.run_line_magic("mlrun", f"attach {run.name}")
    assert attached.state == JobPhase.SUCCEEDED
    assert attached.logs() == "from the first kernel\n"


@pytest.mark.slow
def test_flood_of_a_million_lines_keeps_every_line_and_bounds_the_view(
    ip: InteractiveShell, magics: MlresMagics, comm_messages: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000,000 lines: the full log has them all, in order; the widget view sent a bounded
    number of messages of bounded size (measured in benchmarks/bench_flood.py)."""
    import time

    magics.view = "widget"
    monkeypatch.setattr("jupyter_mlres.kernel.runcell.show", lambda obj: None)
    models: list[RunModel] = []
    original = RunModel.__post_init__

    def spy(self: RunModel) -> None:
        original(self)
        models.append(self)

    monkeypatch.setattr(RunModel, "__post_init__", spy)
    rss_before = psutil.Process().memory_info().rss
    started = time.monotonic()
    run = ip.run_cell_magic("mlrun", "flood", "for i in range(1_000_000):\n    print(i)\n")
    elapsed = time.monotonic() - started
    rss_growth = psutil.Process().memory_info().rss - rss_before

    assert run.state == JobPhase.SUCCEEDED
    expected = 0
    for line in run._backend.logs(run.name, follow=False):
        assert int(line.text) == expected
        expected += 1
    assert expected == 1_000_000
    (model,) = models
    assert model.total_lines == 1_000_000
    snapshot = model.snapshot()
    assert [line.text for line in snapshot.tail] == [str(i) for i in range(999_995, 1_000_000)]
    # At most 4 widget values change per refresh, refreshes at most every 0.25 s (+ widget setup).
    assert len(comm_messages) <= 4 * (elapsed / 0.25 + 2) + 30
    assert max(comm_messages) < 64 * 1024
    # The kernel keeps a bounded tail, not the million lines (that alone would be >200 MB).
    assert rss_growth < 150 * 1024 * 1024
