"""The job view's Cancel and Detach buttons answer while the cell still watches the job.

A real ipykernel, driven like JupyterLab drives it: the watching cell, a second cell queued
behind it, then a click on a button of the view — sent as the comm message the front end sends
(ipywidgets' Button handles ``{"method": "custom", "content": {"event": "click"}}``).
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

# Long enough that a cell ending with the job still Running, or the job Cancelled, can only be
# the button's doing; each step below is awaited for much less than this (a guard, not a measure).
SLEEPY_CELL = "%%mlrun sleepy\nimport time\nprint('started', flush=True)\ntime.sleep(120)\n"
QUEUED_CELL = "queued = _\nprint('queued cell saw', type(queued).__name__, queued.state)\n"
WAIT = 30.0


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockingKernelClient]:
    root: Path = tmp_path_factory.mktemp("buttons")
    manager = KernelManager(kernel_name="python3")
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(root),
        "MLRES_LOCAL_RUN_ROOT": str(root / "runs"),
        "MLRES_VIEW": "",
    }
    manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        client.execute_interactive("%load_ext jupyter_mlres", timeout=60, output_hook=lambda _m: None)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


class Cell:
    """What iopub says about one execute request."""

    def __init__(self, msg_id: str) -> None:
        self.msg_id = msg_id
        self.messages: list[dict[str, Any]] = []

    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.messages if m["msg_type"] == "stream")

    def result(self) -> str:
        results = [m for m in self.messages if m["msg_type"] == "execute_result"]
        return str(results[-1]["content"]["data"]["text/plain"]) if results else ""

    def errors(self) -> list[str]:
        return ["\n".join(m["content"]["traceback"]) for m in self.messages if m["msg_type"] == "error"]


def _read_iopub(client: BlockingKernelClient, cells: dict[str, Cell], until: Any) -> dict[str, Any]:
    """Record iopub messages by cell until ``until(msg)`` is true; returns that message."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            msg = client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"still waiting after {WAIT}s") from None
        cell = cells.get(msg["parent_header"].get("msg_id", ""))
        if cell is not None:
            cell.messages.append(msg)
        if until(msg):
            return msg


def _comm_state(msg: dict[str, Any]) -> dict[str, Any]:
    state = msg["content"].get("data", {}).get("state", {})
    return state if isinstance(state, dict) else {}


def _until_idle(msg_id: str) -> Any:
    return lambda msg: (
        msg["parent_header"].get("msg_id") == msg_id
        and msg["msg_type"] == "status"
        and msg["content"]["execution_state"] == "idle"
    )


def _watch_then(
    client: BlockingKernelClient, act: Callable[[dict[str, str]], None]
) -> tuple[Cell, Cell, list[str]]:
    """Run the watching cell; once its job runs, queue a second cell, then ``act(buttons)``.

    The second cell is sent while the first one blocks, so the kernel (or the pump) must keep it
    queued. Returns both cells (iopub until the queued one is idle) and the order of the replies.
    """
    watching = Cell(client.execute(SLEEPY_CELL, allow_stdin=True))
    cells = {watching.msg_id: watching}
    buttons: dict[str, str] = {}

    def job_running(msg: dict[str, Any]) -> bool:
        if msg["parent_header"].get("msg_id") != watching.msg_id:
            return False
        state = _comm_state(msg)
        if msg["msg_type"] == "comm_open" and state.get("_model_name") == "ButtonModel":
            buttons[state["description"]] = msg["content"]["comm_id"]
        # The view's log tail shows the job's first line: the job runs, the cell watches it.
        return msg["msg_type"] == "comm_msg" and "started" in str(state.get("value", ""))

    _read_iopub(client, cells, job_running)
    queued = Cell(client.execute(QUEUED_CELL, allow_stdin=True))
    cells[queued.msg_id] = queued
    act(buttons)
    _read_iopub(client, cells, _until_idle(queued.msg_id))
    replies = [client.get_shell_msg(timeout=WAIT)["parent_header"]["msg_id"] for _ in range(2)]
    order = ["watching" if r == watching.msg_id else "queued" if r == queued.msg_id else r for r in replies]
    return watching, queued, order


def _click(client: BlockingKernelClient, button: str) -> Callable[[dict[str, str]], None]:
    def click(buttons: dict[str, str]) -> None:
        data = {"method": "custom", "content": {"event": "click"}}
        client.shell_channel.send(client.session.msg("comm_msg", {"comm_id": buttons[button], "data": data}))

    return click


def _cancel_queued_run(client: BlockingKernelClient) -> str:
    done = Cell(client.execute("print(queued.cancel())", allow_stdin=True))
    _read_iopub(client, {done.msg_id: done}, _until_idle(done.msg_id))
    assert client.get_shell_msg(timeout=WAIT)["parent_header"]["msg_id"] == done.msg_id
    return done.stdout()


@pytest.mark.slow
def test_cancel_stops_the_job_and_ends_the_watching_cell(kernel: BlockingKernelClient) -> None:
    watching, queued, order = _watch_then(kernel, _click(kernel, "Cancel"))

    assert watching.errors() == queued.errors() == []
    assert "state=Cancelled" in watching.result()
    # The cell queued behind ran after the watching cell, which had ended: it saw its result.
    assert order == ["watching", "queued"]
    assert queued.stdout() == "queued cell saw Run Cancelled\n"


@pytest.mark.slow
def test_detach_ends_the_watching_cell_and_the_job_keeps_running(kernel: BlockingKernelClient) -> None:
    watching, queued, order = _watch_then(kernel, _click(kernel, "Detach"))

    assert watching.errors() == queued.errors() == []
    assert "state=Running" in watching.result()
    assert watching.stdout().startswith("Detached: sleepy-")
    assert order == ["watching", "queued"]
    assert queued.stdout() == "queued cell saw Run Running\n"

    # The view keeps following the job; cancelling it from a later cell ends it (and the test).
    assert _cancel_queued_run(kernel) == "Cancelled\n"


@pytest.mark.slow
def test_an_interrupt_while_watching_detaches_and_the_queued_cell_still_runs(
    kernel: BlockingKernelClient,
) -> None:
    manager = kernel.parent
    assert isinstance(manager, KernelManager)
    watching, queued, order = _watch_then(kernel, lambda _buttons: manager.interrupt_kernel())

    assert watching.errors() == queued.errors() == []
    assert watching.stdout().startswith("Interrupted: sleepy-")
    assert order == ["watching", "queued"]
    assert queued.stdout() == "queued cell saw Run Running\n"
    assert _cancel_queued_run(kernel) == "Cancelled\n"
