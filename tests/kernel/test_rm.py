"""``%mlrun rm`` through a real IPython shell: on a scripted FakeBackend and on real local runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.runs import JobPhase, RunId, RunStatus
from jupyter_mlres.kernel.cleanup import finished_runs, parse_days
from jupyter_mlres.kernel.magics import MlresMagics
from jupyter_mlres.testing import FakeBackend


def _submit(ip: InteractiveShell, name: str) -> str:
    run = ip.run_cell_magic("mlrun", f"{name} --backend fake --detach", "pass\n")
    return str(run.name)


# -- FakeBackend ---------------------------------------------------------------------------------


def test_rm_deletes_finished_runs_and_says_why_it_kept_the_others(
    ip: InteractiveShell, fake: FakeBackend, magics: MlresMagics, capsys: pytest.CaptureFixture[str]
) -> None:
    done, failed, running = _submit(ip, "done"), _submit(ip, "failed"), _submit(ip, "running")
    fake.finish(RunId(done))
    fake.finish(RunId(failed), JobPhase.FAILED)
    fake.start(RunId(running))
    capsys.readouterr()

    ip.run_line_magic("mlrun", f"rm {done} {running} no-such-run {failed} --backend fake")

    assert capsys.readouterr().out.splitlines() == [
        f"{done}: deleted",
        f"{running}: not deleted: run {running} is Running; cancel it first: "
        f"%mlrun cancel {running} --backend fake",
        "no-such-run: not deleted: no run named 'no-such-run' in backend 'fake'",
        f"{failed}: deleted",
        "2 runs deleted, 2 not deleted",
    ]
    assert fake.deleted == [done, failed]
    assert [s.run_id for s in fake.list_runs()] == [running]
    assert done not in magics._runs
    assert running in magics._runs


def test_rm_finds_a_remembered_run_on_its_own_backend(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = _submit(ip, "etl")
    fake.finish(RunId(run_id))
    capsys.readouterr()
    ip.run_line_magic("mlrun", f"rm {run_id}")  # no --backend: the magic knows where it ran
    assert capsys.readouterr().out.splitlines() == [f"{run_id}: deleted", "1 run deleted"]


def test_rm_finished_deletes_every_terminal_run_and_only_those(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    ok, cancelled, pending = _submit(ip, "ok"), _submit(ip, "stopped"), _submit(ip, "waiting")
    fake.finish(RunId(ok))
    fake.cancel(RunId(cancelled))
    capsys.readouterr()

    ip.run_line_magic("mlrun", "rm --finished --backend fake")

    out = capsys.readouterr().out.splitlines()
    assert sorted(out[:-1]) == sorted([f"{ok}: deleted", f"{cancelled}: deleted"])
    assert out[-1] == "2 runs deleted"
    assert [s.run_id for s in fake.list_runs()] == [pending]

    ip.run_line_magic("mlrun", "rm --finished --backend fake")
    assert capsys.readouterr().out == "no finished runs on backend 'fake'\n"


def test_rm_finished_older_than_keeps_recent_runs(
    ip: InteractiveShell, fake: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    old, recent = _submit(ip, "old"), _submit(ip, "recent")
    fake.finish(RunId(old), finished=datetime.now(timezone.utc) - timedelta(days=10))
    fake.finish(RunId(recent))
    capsys.readouterr()

    ip.run_line_magic("mlrun", "rm --finished --older-than 7 --backend fake")

    assert capsys.readouterr().out.splitlines() == [f"{old}: deleted", "1 run deleted"]
    assert [s.run_id for s in fake.list_runs()] == [recent]
    ip.run_line_magic("mlrun", "rm --finished --older-than=7 --backend fake")
    assert capsys.readouterr().out == "no finished runs finished more than 7 days ago on backend 'fake'\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("rm", "%mlrun rm: invalid value None; allowed: RUN names (from `%mlrun jobs`) or --finished"),
        ("rm --older-than 3 x", "rm --older-than: invalid value '3'; allowed: only together with --finished"),
        (
            "rm --finished --older-than soon",
            "rm --older-than: invalid value 'soon'; allowed: a number of days >= 0, e.g. 7 or 0.5",
        ),
        ("rm --finished --older-than -1", "rm --older-than: invalid value '-1'"),
        ("rm --finished --older-than", "rm --older-than: invalid value None (missing value)"),
        (
            "rm x --finished",
            "%mlrun rm: invalid value 'x'; allowed: either RUN names or --finished, not both",
        ),
        ("rm x --force", "%mlrun rm: invalid value '--force' (unknown option); allowed: --backend"),
        ("rm x --backend nowhere", "backend: invalid value 'nowhere' (unknown backend)"),
    ],
)
def test_rm_usage_errors_are_one_line_and_delete_nothing(
    ip: InteractiveShell, fake: FakeBackend, line: str, message: str
) -> None:
    run_id = _submit(ip, "x")
    fake.finish(RunId(run_id))
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("mlrun", line)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert fake.deleted == []


def test_usage_text_lists_rm(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("mlrun", "help")
    out = capsys.readouterr().out
    assert "%mlrun rm RUN [RUN ...]" in out
    assert "%mlrun rm --finished [--older-than DAYS]" in out


# -- real local runs -----------------------------------------------------------------------------


def test_rm_on_real_local_runs(
    ip: InteractiveShell, magics: MlresMagics, capsys: pytest.CaptureFixture[str]
) -> None:
    done = ip.run_cell_magic("mlrun", "done", "print('hi')\n")
    assert done.state == JobPhase.SUCCEEDED
    sleeper = ip.run_cell_magic("mlrun", "sleeper --detach", "import time\ntime.sleep(600)\n")
    run_dir = magics._backend("local").run_dir(RunId(done.name))  # type: ignore[attr-defined]
    capsys.readouterr()

    ip.run_line_magic("mlrun", f"rm {done.name} {sleeper.name}")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{done.name}: deleted"
    assert out[1].startswith(f"{sleeper.name}: not deleted: run {sleeper.name} is ")
    assert out[1].endswith(f"; cancel it first: %mlrun cancel {sleeper.name}")
    assert out[2] == "1 run deleted, 1 not deleted"
    assert not run_dir.exists()

    ip.run_line_magic("mlrun", f"cancel {sleeper.name}")
    ip.run_line_magic("mlrun", "rm --finished")
    assert capsys.readouterr().out.splitlines()[-2:] == [f"{sleeper.name}: deleted", "1 run deleted"]
    ip.run_line_magic("mlrun", "jobs")
    assert capsys.readouterr().out == "no runs\n"


# -- the pure parts ------------------------------------------------------------------------------


@given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
def test_any_non_negative_number_of_days_parses(days: float) -> None:
    assert parse_days(repr(days)) == days


@given(st.text().filter(lambda t: not _is_days(t)))
def test_anything_else_is_a_spec_error_naming_the_option(text: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_days(text)
    assert info.value.path == "rm --older-than"
    assert info.value.value == text


def _is_days(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return 0 <= value < float("inf")


NOW = datetime(2026, 1, 31, tzinfo=timezone.utc)


def _status(run_id: str, phase: JobPhase, finished_days_ago: float | None) -> RunStatus:
    finished = None if finished_days_ago is None else NOW - timedelta(days=finished_days_ago)
    return RunStatus(
        run_id=RunId(run_id),
        function="f",
        backend="fake",
        phase=phase,
        created=NOW - timedelta(days=30),
        finished=finished,
    )


def test_finished_runs_chooses_terminal_runs_by_finish_time() -> None:
    runs = [
        _status("running", JobPhase.RUNNING, None),
        _status("old", JobPhase.FAILED, 10),
        _status("new", JobPhase.SUCCEEDED, 1),
        _status("unknown-end", JobPhase.CANCELLED, None),
    ]
    assert [r.run_id for r in finished_runs(runs, now=NOW, older_than_days=None)] == [
        "old",
        "new",
        "unknown-end",
    ]
    # With an age, a run whose end time is unknown is kept: never delete on a guess.
    assert [r.run_id for r in finished_runs(runs, now=NOW, older_than_days=7)] == ["old"]
    assert [r.run_id for r in finished_runs(runs, now=NOW, older_than_days=0)] == ["old", "new"]
