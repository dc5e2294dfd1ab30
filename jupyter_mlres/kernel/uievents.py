"""Widget clicks while a cell blocks: handle comm messages early, keep everything else in order.

ipykernel handles the messages of the shell channel one at a time on the kernel's main thread,
so while a cell blocks (``%%mlrun`` watching its job, ``run.wait()``) a click on the job view's
Cancel or Detach button — a ``comm_msg`` — waits behind the cell. :class:`CommPump` lets those
through: called now and then by the waiting cell, it takes the messages waiting for the main
thread from the socket they arrive on; comm messages (``comm_open``, ``comm_msg``,
``comm_close``) are handled at once, as the kernel would when idle; every other message (the
next cell's ``execute_request``, a completion, ...) is held and, when the pump closes, handed back
to the kernel's own dispatch in the order it came, ahead of anything that arrives later. Cells
therefore still run one after the other, in order.

This is what `jupyter-ui-poll <https://github.com/kirill888/jupyter-ui-poll>`_ does; its 1.1.0
relies on ``Kernel.do_one_iteration``, which ipykernel 7 no longer has (it then silently does
nothing), hence this module. It works wherever the main thread's shell messages come through a
pyzmq ``ZMQStream`` on the calling thread's event loop: ipykernel 7 (an inproc socket fed by the
shell-channel thread) and ipykernel 6 (the shell socket itself). Anywhere else — plain or terminal
IPython, an in-process kernel, a subshell or another thread, a pump inside a pump — it does
nothing and the cell waits as before. An unexpected error disables it for the rest of the wait,
and the messages it holds are still handed back.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["COMM_MESSAGES", "CommPump", "ui_events"]

COMM_MESSAGES = frozenset({"comm_open", "comm_msg", "comm_close"})

log = logging.getLogger(__name__)

# One pump at a time: a click handler that itself waits (run.wait() from a button) must not
# take, and later hand back, messages that the outer pump already holds.
_busy = threading.Lock()
# asyncio keeps only weak references to tasks; these must survive until the kernel took them.
_handing_back: set[asyncio.Future[Any]] = set()


def _main_shell_stream(kernel: Any) -> Any:
    """The ZMQStream that feeds the kernel's main-thread dispatch, or None."""
    channel_thread = getattr(kernel, "shell_channel_thread", None)
    if channel_thread is None:  # ipykernel 6, or 7 without subshell support
        return getattr(kernel, "shell_stream", None)
    manager = channel_thread.manager
    getter = getattr(manager, "get_shell_channel_to_subshell_pair", None)
    pair = getter(None) if getter is not None else getattr(manager, "_shell_channel_to_main", None)
    return getattr(pair, "to_stream", None)


class CommPump:
    """Takes a kernel's pending shell messages: comms handled now, the rest handed back later.

    Use through :func:`ui_events`, which gives a pump that does nothing outside a kernel.
    """

    def __init__(self, kernel: Any, stream: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._kernel = kernel
        self._stream = stream
        self._socket = stream.socket
        self._callback = stream._recv_callback
        self._copy = bool(getattr(stream, "_recv_copy", False))
        self._loop = loop
        self._held: list[Any] = []
        self.handled = 0
        self.broken = False

    @classmethod
    def attach(cls) -> CommPump | None:
        """A pump for the kernel whose main thread is calling, or None when there is none."""
        try:
            from IPython import get_ipython

            shell = get_ipython()
            kernel = getattr(shell, "kernel", None)
            if kernel is None or getattr(kernel, "session", None) is None:
                return None
            handlers = getattr(kernel, "shell_handlers", {})
            if not all(kind in handlers for kind in COMM_MESSAGES):
                return None
            # What _dispatch needs to put the cell's parent back after a click (ipykernel >= 6).
            kernel.get_parent("shell")
            kernel._parent_ident["shell"]
            stream = _main_shell_stream(kernel)
            if stream is None or getattr(stream, "_recv_callback", None) is None:
                return None
            loop = asyncio.get_running_loop()
            # Only the thread running the stream's loop may touch its socket (zmq sockets are not
            # thread-safe); a cell in a subshell or a wait on another thread gets no pump.
            if getattr(stream.io_loop, "asyncio_loop", None) is not loop or stream.closed():
                return None
            return cls(kernel, stream, loop)
        except Exception:  # no running loop, another kernel flavour: wait as before
            log.debug("no widget event pump here", exc_info=True)
            return None

    def poll(self, limit: int = 50) -> int:
        """Handle the comm messages waiting now (at most ``limit`` messages); returns how many."""
        if self.broken:
            return 0
        import zmq

        handled = 0
        try:
            for _ in range(limit):
                try:
                    frames = self._socket.recv_multipart(zmq.NOBLOCK, copy=self._copy)
                except zmq.Again:
                    break
                # Held at once, so that an error (or an interrupt) from here on loses nothing.
                self._held.append(frames)
                if self._message_type(frames) in COMM_MESSAGES:
                    self._held.pop()
                    self._dispatch(frames)
                    handled += 1
        except Exception:
            self.broken = True
            log.warning("widget events disabled for this wait", exc_info=True)
        self.handled += handled
        return handled

    def _message_type(self, frames: list[Any]) -> str | None:
        session = self._kernel.session
        try:
            _, rest = session.feed_identities(frames, copy=self._copy)
            # Headers only: the signature is recorded (as a replay guard) only on full reads.
            header = session.deserialize(rest, content=False, copy=self._copy)["header"]
            return str(header.get("msg_type"))
        except Exception:  # left to the kernel, which logs bad messages
            return None

    def _dispatch(self, frames: list[Any]) -> None:
        """Handle one comm message as ipykernel does for comms arriving while a cell runs."""
        kernel = self._kernel
        idents, rest = kernel.session.feed_identities(frames, copy=self._copy)
        try:
            msg = kernel.session.deserialize(rest, content=True, copy=self._copy)
        except Exception:
            log.error("invalid comm message", exc_info=True)
            return
        handler = kernel.shell_handlers[msg["header"]["msg_type"]]
        parent = kernel.get_parent("shell")
        parent_ident = kernel._parent_ident["shell"]
        # What the cell printed so far belongs to the cell, what the handler prints to the click.
        _flush_std()
        kernel.set_parent(idents, msg, channel="shell")
        try:
            handler(self._stream, idents, msg)
        except Exception:
            log.error("exception in comm handler", exc_info=True)
        finally:
            _flush_std()
            kernel.set_parent(parent_ident, parent, channel="shell")

    def close(self) -> None:
        """Hand the held messages back to the kernel, in order, to run once the cell ended."""
        held, self._held = self._held, []
        for frames in held:
            try:
                # The stream's own callback: each message then takes the very path (and queue,
                # or lock) a message read by the stream takes, behind the current cell.
                result = self._callback(frames)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result, loop=self._loop)
                    _handing_back.add(task)
                    task.add_done_callback(_handing_back.discard)
            except Exception:
                log.error("could not hand a shell message back to the kernel", exc_info=True)


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


class _NoPump:
    handled = 0
    broken = False

    def poll(self, limit: int = 50) -> int:
        return 0


@contextmanager
def ui_events() -> Iterator[CommPump | _NoPump]:
    """A pump to call while waiting: ``with ui_events() as pump: ... pump.poll() ...``.

    Outside a kernel's main thread, or inside another pump, ``poll()`` does nothing. On leaving,
    the messages the pump held go back to the kernel (also after an error or an interrupt).
    """
    pump = CommPump.attach()
    # Only the kernel's main thread gets a pump, so this lock only ever refuses a nested one.
    if pump is None or not _busy.acquire(blocking=False):
        yield _NoPump()
        return
    try:
        yield pump
    finally:
        try:
            pump.close()
        finally:
            _busy.release()
