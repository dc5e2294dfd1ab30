"""%%mlrun in a real ipykernel, driven like JupyterLab drives it (execute requests that allow
stdin): the live widget view, what it sends on iopub under a flood, and the run handle."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[BlockingKernelClient]:
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "JUPYTER_DATA_DIR": str(tmp_path), "MLRES_VIEW": ""})
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _execute(
    client: BlockingKernelClient, code: str, *, allow_stdin: bool, timeout: float = 120
) -> list[dict[str, Any]]:
    """Run ``code``; return every iopub message of that request until the kernel is idle."""
    msg_id = client.execute(code, allow_stdin=allow_stdin, stop_on_error=True)
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
    raise AssertionError(f"no reply within {timeout}s: {code!r}")


def _errors(messages: list[dict[str, Any]]) -> list[str]:
    return ["\n".join(m["content"]["traceback"]) for m in messages if m["msg_type"] == "error"]


@pytest.mark.slow
def test_live_widget_view_in_a_real_kernel_stays_bounded_under_a_flood(kernel: BlockingKernelClient) -> None:
    assert not _errors(_execute(kernel, "%load_ext jupyter_mlres", allow_stdin=True))
    lines = 200_000
    started = time.monotonic()
    messages = _execute(
        kernel,
        f"%%mlrun flood\nfor i in range({lines}):\n    print(i)\n",
        allow_stdin=True,
    )
    elapsed = time.monotonic() - started
    assert not _errors(messages)
    kinds = [m["msg_type"] for m in messages]
    # The view is a widget (displayed once), updated through comm messages; no output streams.
    displays = [m for m in messages if m["msg_type"] == "display_data"]
    assert any("application/vnd.jupyter.widget-view+json" in m["content"]["data"] for m in displays)
    assert "stream" not in kinds
    comm_msgs = [m for m in messages if m["msg_type"] == "comm_msg"]
    sizes = [len(json.dumps(m["content"])) for m in comm_msgs]
    print(f"{lines} lines in {elapsed:.1f}s: {len(comm_msgs)} comm messages, {sum(sizes)} bytes")
    assert len(comm_msgs) >= 4  # the view was live: updated while the job ran, not only at the end
    assert len(comm_msgs) <= 4 * (elapsed / 0.25 + 2) + 30
    assert max(sizes) < 64 * 1024
    final = [m for m in messages if m["msg_type"] == "execute_result"]
    assert "state=Succeeded" in final[-1]["content"]["data"]["text/plain"]

    check = _execute(
        kernel,
        "run = _\nlog = run.logs()\nprint(run.state, log.count('\\n'), log.endswith('199999\\n'))",
        allow_stdin=True,
    )
    text = "".join(m["content"]["text"] for m in check if m["msg_type"] == "stream")
    assert text == f"Succeeded {lines} True\n"


def test_a_program_driving_the_kernel_gets_deterministic_text(kernel: BlockingKernelClient) -> None:
    assert not _errors(_execute(kernel, "%load_ext jupyter_mlres", allow_stdin=False))
    messages = _execute(kernel, "%%mlrun hello\nprint('hi')\n", allow_stdin=False)
    assert not _errors(messages)
    text = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    # No NotHonoured warning either: a default run asks for nothing the local backend ignores.
    assert text.splitlines() == [
        "hello: Pending",
        "hello: Running",
        "hello: Succeeded",
        "--- log ---",
        "hi",
        "---",
    ]
    assert not [m for m in messages if m["msg_type"] == "comm_open"]
