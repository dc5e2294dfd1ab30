"""How fast the job view's Cancel and Detach buttons answer while a cell watches its job.

    python benchmarks/bench_view_buttons.py [--clicks N]

Starts a real ipykernel (jupyter_client), runs a watched ``%%mlrun`` cell on the local backend
(a throwaway run root), waits for the job's first log line in the view, clicks the button as the
front end would (a ``comm_msg`` to the Button model) and times click -> the watching cell's
``execute_reply``. Cancel includes stopping the job (SIGTERM to its process group).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

from jupyter_client.manager import KernelManager

SLEEPY = "%%mlrun sleepy\nimport time\nprint('started', flush=True)\ntime.sleep(60)\n"


def buttons_once_started(client: Any, msg_id: str) -> dict[str, str]:
    """The view's button comm ids, once the job's first line is in the view."""
    buttons: dict[str, str] = {}
    while True:
        msg = client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id or msg["msg_type"] not in ("comm_open", "comm_msg"):
            continue
        state = msg["content"].get("data", {}).get("state", {})
        if msg["msg_type"] == "comm_open" and state.get("_model_name") == "ButtonModel":
            buttons[state["description"]] = msg["content"]["comm_id"]
        if msg["msg_type"] == "comm_msg" and "started" in str(state.get("value", "")):
            return buttons


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clicks", type=int, default=5, help="clicks per button")
    clicks = parser.parse_args().clicks
    root = tempfile.mkdtemp(prefix="mlres-bench-")
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "MLRES_LOCAL_RUN_ROOT": root, "JUPYTER_DATA_DIR": root})
    client = manager.client()
    client.start_channels()
    times: dict[str, list[float]] = {"Cancel": [], "Detach": []}
    try:
        client.wait_for_ready(timeout=60)
        client.execute_interactive("%load_ext jupyter_mlres", output_hook=lambda _m: None)
        for button in ("Cancel", "Detach") * clicks:
            msg_id = client.execute(SLEEPY)
            comm_id = buttons_once_started(client, msg_id)[button]
            click = {"comm_id": comm_id, "data": {"method": "custom", "content": {"event": "click"}}}
            start = time.monotonic()
            client.shell_channel.send(client.session.msg("comm_msg", click))
            reply = client.get_shell_msg(timeout=60)
            times[button].append(time.monotonic() - start)
            assert reply["parent_header"]["msg_id"] == msg_id, "the reply is not the watching cell's"
            if button == "Detach":
                client.execute_interactive("_.cancel()", output_hook=lambda _m: None)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    for button, values in times.items():
        print(
            f"{button}: click -> watching cell's reply: median {statistics.median(values) * 1000:.0f} ms, "
            f"max {max(values) * 1000:.0f} ms over {len(values)} clicks"
        )


if __name__ == "__main__":
    main()
