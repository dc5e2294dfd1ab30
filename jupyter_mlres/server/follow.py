"""Move log lines from a backend's blocking iterator to the IO loop, bounded.

A daemon thread iterates the backend's follow iterator and appends to a small buffer; the HTTP
handler drains the buffer in batches. When the browser reads slower than the job prints, the
thread waits (the backend keeps the full log), so memory per stream stays bounded.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator

from jupyter_mlres.core.runs import LogLine

__all__ = ["LogPump"]

Source = Callable[[threading.Event], Iterator[tuple[int, LogLine]]]


class LogPump:
    """Runs ``source(stop)`` on a thread; ``drain()`` takes what it produced so far."""

    def __init__(self, source: Source, *, capacity: int = 2000) -> None:
        self.stop = threading.Event()
        self._source = source
        self._capacity = capacity
        self._lines: deque[tuple[int, LogLine]] = deque()
        self._cond = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mlres-log-follow", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.stop.set()
        with self._cond:
            self._cond.notify_all()

    def drain(self, limit: int) -> tuple[list[tuple[int, LogLine]], bool, BaseException | None]:
        """Up to ``limit`` lines, whether the source is exhausted, and the error it raised."""
        with self._cond:
            batch = [self._lines.popleft() for _ in range(min(limit, len(self._lines)))]
            self._cond.notify_all()
            return batch, self._done and not self._lines, self._error

    def _run(self) -> None:
        try:
            for item in self._source(self.stop):
                with self._cond:
                    while len(self._lines) >= self._capacity and not self.stop.is_set():
                        self._cond.wait(timeout=0.5)
                    if self.stop.is_set():
                        return
                    self._lines.append(item)
        except BaseException as error:  # handed to the handler, which reports it to the client
            with self._cond:
                self._error = error
        finally:
            with self._cond:
                self._done = True
