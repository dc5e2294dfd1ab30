"""Resuming a timestamped log stream with no line lost or repeated. Pure.

The Kubernetes log API prefixes each line with an RFC 3339 timestamp (nanoseconds) when asked
(``timestamps=true``) and resumes from ``sinceTime``, which it reads with one-second precision and
treats as inclusive. So a resumed stream repeats the lines of the last second already seen: the
:class:`LogCursor` drops them by comparing full-precision timestamps, counting lines that share the
last timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = ["LogCursor", "TimedLine", "split_timestamp"]


@dataclass(frozen=True)
class TimedLine:
    stamp: str
    """The timestamp as the server wrote it (kept for exact comparison)."""
    nanos: int
    time: datetime
    text: str


def _nanos(stamp: str) -> tuple[int, datetime] | None:
    text = stamp.strip()
    if not text.endswith("Z"):
        return None
    body = text[:-1]
    whole, _, frac = body.partition(".")
    try:
        base = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    if frac and not frac.isdigit():
        return None
    frac_ns = int(frac[:9].ljust(9, "0")) if frac else 0
    seconds = int(base.timestamp())
    return seconds * 1_000_000_000 + frac_ns, base.replace(microsecond=frac_ns // 1000)


def split_timestamp(raw: str) -> TimedLine | None:
    """``"2026-11-29T23:00:00.123456789Z hello"`` -> TimedLine; None when there is no timestamp."""
    stamp, sep, text = raw.partition(" ")
    parsed = _nanos(stamp)
    if parsed is None:
        return None
    if not sep:
        text = ""
    return TimedLine(stamp, parsed[0], parsed[1], text)


class LogCursor:
    """Where one container's log was read up to; decides which lines of a new stream are new."""

    def __init__(self) -> None:
        self.last_nanos: int = -1
        self.seen_at_last = 0
        self._session_nanos = -1
        self._session_count = 0

    def new_session(self) -> None:
        """Call when (re)opening a stream from :meth:`since_time`."""
        self._session_nanos = -1
        self._session_count = 0

    def accept(self, line: TimedLine) -> bool:
        """True when ``line`` was not delivered before (and remember it)."""
        if line.nanos == self._session_nanos:
            self._session_count += 1
        else:
            self._session_nanos = line.nanos
            self._session_count = 1
        if line.nanos > self.last_nanos:
            self.last_nanos = line.nanos
            self.seen_at_last = 1
            return True
        if line.nanos == self.last_nanos and self._session_count > self.seen_at_last:
            self.seen_at_last = self._session_count
            return True
        return False

    def since_time(self) -> str | None:
        """The ``sinceTime`` to resume from (whole seconds, rounded down), None to start over."""
        if self.last_nanos < 0:
            return None
        seconds = self.last_nanos // 1_000_000_000
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
