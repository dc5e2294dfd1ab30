"""The full log of a local run: one file, every line of every replica, fast to append and to read.

Format (UTF-8 text as the job printed it, one record per line)::

    <unix time, 6 decimals> <replica> <o|e> <text>\\n
    1764457225.123456 0 o epoch 1: loss 0.31
    1764457225.123980 1 e Traceback (most recent call last):

The supervisor prefixes whole chunks read from a pipe at once (``bytes.replace`` on the chunk,
no per-line Python work), so all lines of one chunk share the time it was read: the time the
line reached the log, to within a few milliseconds. Lines of one replica's stream stay in order;
only complete lines are written, so a reader at any byte offset sees whole records up to the last
newline. Bytes that are not UTF-8 are kept as they are and decoded with replacement on reading.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

from jupyter_mlres.core.runs import LogLine, RunId

__all__ = ["MAX_LINE_BYTES", "LogCursor", "LogWriter", "parse_log", "tail_offset"]

MAX_LINE_BYTES: Final = 1 << 20
"""A line longer than this (e.g. a progress bar redrawn with ``\\r`` for hours) is cut into pieces."""

_STREAM_TAG: Final = {"stdout": b"o", "stderr": b"e"}
_STREAM_NAME: Final = {b"o": "stdout", b"e": "stderr"}
_READ_CHUNK: Final = 4 << 20


class LogWriter:
    """Appends replica output to the log; the supervisor is the only writer of a run's log."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._partial: dict[tuple[int, str], bytes] = {}
        self._out: list[bytes] = []
        self.lines_written = 0

    def feed(self, replica: int, stream: str, data: bytes, now: float) -> None:
        """Queue the complete lines of ``data`` (a pipe chunk); keep a trailing partial line."""
        key = (replica, stream)
        pending = self._partial.pop(key, b"")
        if pending:
            data = pending + data
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= MAX_LINE_BYTES:
                self._queue(replica, stream, data, now)
            else:
                self._partial[key] = data
            return
        if end + 1 < len(data):
            self._partial[key] = data[end + 1 :]
        self._queue(replica, stream, data[:end], now)

    def end_of_stream(self, replica: int, stream: str, now: float) -> None:
        """The pipe closed: a last line without newline is still a line."""
        pending = self._partial.pop((replica, stream), b"")
        if pending:
            self._queue(replica, stream, pending, now)

    def flush(self) -> int:
        """Write everything queued in one system call; the number of bytes written."""
        if not self._out:
            return 0
        data = b"".join(self._out)
        self._out.clear()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        return len(data)

    def close(self, now: float) -> None:
        for replica, stream in list(self._partial):
            self.end_of_stream(replica, stream, now)
        self.flush()
        os.close(self._fd)

    def _queue(self, replica: int, stream: str, lines: bytes, now: float) -> None:
        prefix = b"%.6f %d %s " % (now, replica, _STREAM_TAG[stream])
        self._out.append(prefix + lines.replace(b"\n", b"\n" + prefix) + b"\n")
        self.lines_written += lines.count(b"\n") + 1


def parse_log(run_id: RunId, data: bytes) -> list[LogLine]:
    """Records in ``data`` (complete lines only) as :class:`LogLine` values."""
    lines: list[LogLine] = []
    times: dict[bytes, datetime] = {}
    append = lines.append
    for raw in data.split(b"\n"):
        if not raw:
            continue
        parts = raw.split(b" ", 3)
        if len(parts) < 3:
            continue
        stamp = parts[0]
        when = times.get(stamp)
        if when is None:
            try:
                when = datetime.fromtimestamp(float(stamp), timezone.utc)
            except ValueError:
                continue
            times[stamp] = when
        text = parts[3].decode("utf-8", "replace") if len(parts) == 4 else ""
        append(LogLine(run_id, int(parts[1]), _STREAM_NAME.get(parts[2], "stdout"), text, when))
    return lines


class LogCursor:
    """Reads a run's log from a byte offset on, complete records only."""

    def __init__(self, run_id: RunId, path: Path, offset: int = 0) -> None:
        self.run_id = run_id
        self.path = path
        self.offset = offset

    def read(self) -> Iterator[list[LogLine]]:
        """Batches of the lines written since the last read (at most a few MiB each)."""
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed below; generators keep it short
        except FileNotFoundError:
            return
        with f:
            f.seek(self.offset)
            while True:
                data = f.read(_READ_CHUNK)
                if not data:
                    return
                end = data.rfind(b"\n") + 1
                if end == 0:
                    if len(data) < _READ_CHUNK:
                        return  # a record being written; read it next time
                    end = len(data)  # pragma: no cover - longer than MAX_LINE_BYTES: cannot happen
                elif end < len(data):
                    f.seek(self.offset + end)
                self.offset += end
                yield parse_log(self.run_id, data[:end])


def tail_offset(path: Path, lines: int) -> int:
    """Byte offset where the last ``lines`` complete records of the log start."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    lines = max(lines, 0)
    # The first newline from the end closes the last complete record (a trailing partial one is
    # left for the cursor); the (lines + 1)-th closes the record before the ones we want.
    count = 0
    position = size
    with open(path, "rb") as f:
        while position > 0:
            start = max(0, position - (64 << 10))
            f.seek(start)
            data = f.read(position - start)
            index = len(data)
            while (index := data.rfind(b"\n", 0, index)) >= 0:
                count += 1
                if count == lines + 1:
                    return start + index + 1
            position = start
    return 0
