"""The widget view in-process: what it shows, its buttons, and that it only sends changes."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlres.core.runs import JobPhase
from jupyter_mlres.kernel.magics import MlresMagics
from jupyter_mlres.kernel.view import WidgetView
from jupyter_mlres.testing import FakeBackend


@pytest.fixture
def widget_mode(magics: MlresMagics, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    shown: list[object] = []
    magics.view = "widget"
    monkeypatch.setattr("jupyter_mlres.kernel.runcell.show", shown.append)
    return shown


def _view(run: object) -> WidgetView:
    view = run._watcher.view  # type: ignore[attr-defined]
    assert isinstance(view, WidgetView)
    return view


def test_the_widget_shows_name_backend_phase_events_tail_and_log_location(
    ip: InteractiveShell, fake: FakeBackend, widget_mode: list[object], comm_messages: list[int]
) -> None:
    run = ip.run_cell_magic("mlrun", "train --backend fake --detach", "pass\n")
    view = _view(run)
    assert widget_mode == [view.widget]
    fake.start(run.name)
    fake.emit_event(run.name, "Unschedulable", "0/3 nodes have a free GPU", replica=0, warning=True)
    fake.emit_log(run.name, "epoch 1", replica=0)
    fake.emit_log(run.name, "epoch 1", replica=1)
    fake.finish(run.name, result=1)
    assert run.wait(timeout=10) == JobPhase.SUCCEEDED
    header = view._header.value
    assert run.name in header
    assert "<code>fake</code>" in header
    assert "Succeeded" in header
    assert "Unschedulable" in view._events.value
    assert "0/3 nodes have a free GPU" in view._events.value
    assert "[0] epoch 1\n[1] epoch 1" in view._tail.value
    assert f"fake://{run.name}" in view._footer.value
    assert view._cancel.disabled
    # Unchanged values are not re-sent: at most one message per value change.
    assert view.updates <= len(comm_messages)


def test_cancel_button_cancels_the_run(
    ip: InteractiveShell, fake: FakeBackend, widget_mode: list[object]
) -> None:
    run = ip.run_cell_magic("mlrun", "--backend fake --detach", "pass\n")
    fake.start(run.name)
    _view(run)._cancel.click()
    assert fake.cancelled == [run.name]
    assert run.wait(timeout=10) == JobPhase.CANCELLED


def test_detach_button_stops_the_blocking_watch(
    ip: InteractiveShell, fake: FakeBackend, widget_mode: list[object]
) -> None:
    run = ip.run_cell_magic("mlrun", "--backend fake --detach", "pass\n")
    _view(run)._detach.click()
    assert run._watch() is False  # a blocking watch returns at once; the job is untouched
    assert run.state == JobPhase.PENDING
    assert _view(run)._detach.disabled
    assert fake.cancelled == []


def test_long_lines_are_cut_in_the_view_but_not_in_the_log(
    ip: InteractiveShell, fake: FakeBackend, widget_mode: list[object]
) -> None:
    run = ip.run_cell_magic("mlrun", "--backend fake --detach", "pass\n")
    fake.emit_log(run.name, "x" * 5000)
    fake.finish(run.name)
    run.wait(timeout=10)
    assert "x" * 400 + " …" in _view(run)._tail.value
    assert run.logs() == "x" * 5000 + "\n"
