"""The comm pump on its own: real zmq sockets and real signed Jupyter messages, a small kernel
stand-in recording what it is asked to handle. The real kernel is in test_view_buttons.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from IPython.core.interactiveshell import InteractiveShell
from jupyter_client.session import Session

from jupyter_mlres.kernel.uievents import CommPump, ui_events


class Kernel:
    """What CommPump uses of an ipykernel Kernel."""

    def __init__(self) -> None:
        self.session = Session(key=b"secret")
        self.handled: list[tuple[str, dict[str, Any], Any]] = []
        self.shell_handlers = {kind: self._handle for kind in ("comm_open", "comm_msg", "comm_close")}
        self._parent: dict[str, Any] = {"header": {"msg_id": "the-cell"}}
        self._parent_ident = {"shell": [b"cell-ident"]}

    def _handle(self, stream: Any, idents: Any, msg: dict[str, Any]) -> None:
        self.handled.append((msg["header"]["msg_type"], msg["content"], self._parent["header"]["msg_id"]))

    def get_parent(self, channel: str) -> dict[str, Any]:
        return self._parent

    def set_parent(self, ident: Any, parent: dict[str, Any], channel: str) -> None:
        self._parent_ident = {"shell": ident}
        self._parent = parent


class Stream:
    """A ZMQStream's receiving side: its socket and the kernel's callback (here: a recorder)."""

    def __init__(self, socket: zmq.Socket[Any], session: Session) -> None:
        self.socket = socket
        self.session = session
        self.handed_back: list[str] = []
        self._recv_callback = self._receive
        self._recv_copy = False

    def _receive(self, frames: list[Any]) -> None:
        _, rest = self.session.feed_identities(frames, copy=False)
        msg = self.session.deserialize(rest, content=True, copy=False)
        self.handed_back.append(f"{msg['header']['msg_type']}:{msg['content'].get('code', '')}")


@pytest.fixture
def wire() -> Iterator[tuple[zmq.Socket[Any], zmq.Socket[Any]]]:
    context = zmq.Context()
    sender, receiver = context.socket(zmq.PAIR), context.socket(zmq.PAIR)
    sender.bind("inproc://uievents-test")
    receiver.connect("inproc://uievents-test")
    yield sender, receiver
    sender.close(linger=0)
    receiver.close(linger=0)
    context.term()


def _send(sender: zmq.Socket[Any], session: Session, msg_type: str, content: dict[str, Any]) -> None:
    session.send(sender, session.msg(msg_type, content), ident=[b"frontend"])


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    made = asyncio.new_event_loop()
    yield made
    made.close()


def test_outside_a_kernel_waiting_is_unchanged(shell: InteractiveShell) -> None:
    # pytest here, IPython's own shell with the extension loaded: no kernel, nothing to pump.
    with ui_events() as pump:
        assert pump.poll() == 0
        assert not isinstance(pump, CommPump)


def test_clicks_are_handled_at_once_and_other_requests_go_back_in_order(
    wire: tuple[zmq.Socket[Any], zmq.Socket[Any]], loop: asyncio.AbstractEventLoop
) -> None:
    sender, receiver = wire
    kernel = Kernel()
    stream = Stream(receiver, kernel.session)
    pump = CommPump(kernel, stream, loop)
    _send(sender, kernel.session, "execute_request", {"code": "cell 2"})
    _send(sender, kernel.session, "comm_msg", {"comm_id": "cancel", "data": {"method": "custom"}})
    _send(sender, kernel.session, "complete_request", {"code": "cell 3"})
    _send(sender, kernel.session, "execute_request", {"code": "cell 3"})

    assert pump.poll() == 1
    # The click ran with the click as parent; the cell's parent came back afterwards.
    assert [(kind, content["comm_id"]) for kind, content, _ in kernel.handled] == [("comm_msg", "cancel")]
    assert kernel.handled[0][2] != "the-cell"
    assert kernel.get_parent("shell")["header"]["msg_id"] == "the-cell"
    assert stream.handed_back == []  # nothing else ran while the cell waits

    _send(sender, kernel.session, "comm_close", {"comm_id": "cancel"})
    assert pump.poll() == 1
    pump.close()
    assert stream.handed_back == [
        "execute_request:cell 2",
        "complete_request:cell 3",
        "execute_request:cell 3",
    ]


def test_a_failing_socket_stops_the_pump_and_loses_no_request(
    wire: tuple[zmq.Socket[Any], zmq.Socket[Any]], loop: asyncio.AbstractEventLoop
) -> None:
    sender, receiver = wire
    kernel = Kernel()
    stream = Stream(receiver, kernel.session)
    pump = CommPump(kernel, stream, loop)
    _send(sender, kernel.session, "execute_request", {"code": "cell 2"})
    assert pump.poll() == 0
    receiver.close(linger=0)  # any error from now on: the wait goes on as before, without clicks

    assert pump.poll() == 0
    assert pump.broken
    assert pump.poll() == 0
    pump.close()
    assert stream.handed_back == ["execute_request:cell 2"]
