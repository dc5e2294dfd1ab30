"""The channel that tells a kernel a run's files changed, so it need not poll them.

The kernel that submits a run keeps one end of a socket pair and hands the other to the run's
supervisor, which pokes it (one byte) after each status, event or log write. Pokes are a hint,
never data: the files stay the one source of truth, a poke that would block is dropped (the
kernel has one pending already), and once the kernel is gone the supervisor stops poking. A
kernel that did not submit the run (a new one, the server) has no channel and polls.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable

__all__ = ["Notifier", "Wakeup"]


class Notifier:
    """The supervisor's end; harmless without a channel.

    ``changed()`` after each write, ``flush()`` before waiting: one poke per burst of writes
    (each poke wakes the kernel, which then competes for the CPU the job needs).
    """

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self._pending = False
        if fd is not None:
            with contextlib.suppress(OSError):
                os.set_blocking(fd, False)

    def changed(self) -> None:
        self._pending = True

    def flush(self) -> None:
        if not self._pending or self._fd is None:
            return
        self._pending = False
        try:
            os.write(self._fd, b"!")
        except BlockingIOError:
            pass  # the kernel has pokes it has not read yet: one more adds nothing
        except OSError:
            self._fd = None  # the kernel is gone; the run goes on without it


class Wakeup:
    """The kernel's end: ``wait`` returns as soon as the run's files may have changed."""

    def __init__(self, sock: socket.socket, on_close: Callable[[], object] | None = None) -> None:
        self._sock = sock
        self._on_close = on_close
        self._changed = threading.Condition()
        self._generation = 0
        self.closed = False
        threading.Thread(target=self._read, name="mlres-wakeup", daemon=True).start()

    @property
    def generation(self) -> int:
        """Take it *before* reading the files, then ``wait(generation, ...)``: no poke is lost."""
        return self._generation

    def wait(self, seen: int, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._generation != seen or self.closed, timeout)

    def _read(self) -> None:
        try:
            while self._sock.recv(4096):
                with self._changed:
                    self._generation += 1
                    self._changed.notify_all()
        except OSError:
            pass
        finally:
            self._sock.close()
            with self._changed:
                self.closed = True
                self._generation += 1
                self._changed.notify_all()
            if self._on_close is not None:
                self._on_close()
