"""Deleting local runs, with real processes: finished runs go entirely, nothing else is touched."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from pathlib import Path

import pytest

from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.core.errors import BackendError, RunNotFinished, RunNotFound
from jupyter_mlres.core.runs import JobPhase, RunId
from jupyter_mlres.core.settings import Settings

from .conftest import make_run, wait


@pytest.fixture
def local(settings: Settings) -> LocalBackend:
    # Cold starts: these tests are about files, not start-up speed (no warm server to wait for).
    return LocalBackend(dataclasses.replace(settings, local_warm_start=False))


def _listed(backend: LocalBackend) -> list[str]:
    return [s.run_id for s in backend.list_runs()]


def test_a_finished_run_is_removed_with_all_its_files(local: LocalBackend, tmp_path: Path) -> None:
    keep = make_run("print('keep me')\n")
    gone = make_run("print('bye')\n")
    for run in (keep, gone):
        local.submit(run)
        assert wait(local, run.run_id)[0].phase == JobPhase.SUCCEEDED
    run_dir = local.run_dir(gone.run_id)
    # Something outside the run, linked from inside it: the link goes, never what it points to.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.txt").write_text("precious")
    (run_dir / "volumes").mkdir()
    (run_dir / "volumes" / "data").symlink_to(outside)

    local.delete(gone.run_id)

    assert not run_dir.exists()
    assert (outside / "data.txt").read_text() == "precious"
    assert _listed(local) == [keep.run_id]
    with pytest.raises(RunNotFound):
        local.status(gone.run_id)
    with pytest.raises(RunNotFound):
        local.delete(gone.run_id)
    # Another backend object (another kernel, the server) no longer sees it either.
    assert _listed(LocalBackend(local.settings)) == [keep.run_id]


def test_a_failed_or_cancelled_run_can_be_deleted(local: LocalBackend) -> None:
    failed = make_run("raise SystemExit(3)\n")
    local.submit(failed)
    assert wait(local, failed.run_id)[0].phase == JobPhase.FAILED
    cancelled = make_run("import time\nprint('ready', flush=True)\ntime.sleep(600)\n")
    local.submit(cancelled)
    next(line for line in local.logs(cancelled.run_id, follow=True) if line.text == "ready")
    assert local.cancel(cancelled.run_id).phase == JobPhase.CANCELLED
    local.delete(failed.run_id)
    local.delete(cancelled.run_id)
    assert _listed(local) == []


def test_a_running_run_is_refused_and_left_untouched(local: LocalBackend) -> None:
    run = make_run("import time\nprint('ready', flush=True)\ntime.sleep(600)\n")
    local.submit(run)
    next(line for line in local.logs(run.run_id, follow=True) if line.text == "ready")
    run_dir = local.run_dir(run.run_id)
    before = sorted(p.name for p in run_dir.iterdir())
    try:
        with pytest.raises(RunNotFinished) as info:
            local.delete(run.run_id)
        assert str(info.value) == f"run {run.run_id} is Running; cancel it first: %mlrun cancel {run.run_id}"
        assert sorted(p.name for p in run_dir.iterdir()) == before
        assert local.status(run.run_id).phase == JobPhase.RUNNING
        assert _listed(local) == [run.run_id]
    finally:
        local.cancel(run.run_id)
    local.delete(run.run_id)
    assert not run_dir.exists()


@pytest.mark.parametrize("name", ["no-such-run", "../runs", ".", "a/b", "UPPER"])
def test_an_unknown_run_is_run_not_found(local: LocalBackend, name: str) -> None:
    local.root.mkdir(parents=True, exist_ok=True)
    with pytest.raises(RunNotFound):
        local.delete(RunId(name))
    assert local.root.is_dir()


def test_a_symlink_in_the_run_root_is_refused_not_followed(local: LocalBackend, tmp_path: Path) -> None:
    run = make_run("print('hi')\n")
    local.submit(run)
    wait(local, run.run_id)
    # A run directory that lives elsewhere, linked into the root under a run id's name.
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(local.run_dir(run.run_id), elsewhere)
    status = json.loads((elsewhere / "status.json").read_text())
    status["run_id"] = "linked-run"
    (elsewhere / "status.json").write_text(json.dumps(status))
    (local.root / "linked-run").symlink_to(elsewhere)

    with pytest.raises(BackendError, match="not a run directory"):
        local.delete(RunId("linked-run"))
    assert (elsewhere / "status.json").is_file()
    assert (local.root / "linked-run").is_symlink()


def test_two_deletes_at_once_remove_the_run_once(local: LocalBackend) -> None:
    # e.g. the sidebar and a notebook: one deletes it, the other finds it gone (or also succeeds)
    run = make_run("print('hi')\n")
    local.submit(run)
    wait(local, run.run_id)
    run_dir = local.run_dir(run.run_id)
    errors: list[BaseException] = []

    def delete() -> None:
        try:
            LocalBackend(local.settings).delete(run.run_id)
        except RunNotFound:
            pass
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=delete) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert not run_dir.exists()
    assert _listed(local) == []
