"""Resuming a timestamped log stream: nothing lost, nothing repeated (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jupyter_mlres.core.logresume import LogCursor, split_timestamp

BASE = 1_790_000_000 * 1_000_000_000


def stamp(ns: int) -> str:
    from datetime import datetime, timezone

    s, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def test_split_timestamp() -> None:
    line = split_timestamp("2026-11-29T23:00:00.123456789Z hello world")
    assert line is not None
    assert line.text == "hello world"
    assert line.time.microsecond == 123456
    assert split_timestamp("no timestamp here") is None
    empty = split_timestamp("2026-11-29T23:00:00Z")
    assert empty is not None
    assert empty.text == ""


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=700_000_000), min_size=1, max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=5),
)
def test_resumed_streams_deliver_every_line_exactly_once(gaps: list[int], cuts: list[int]) -> None:
    # lines with non-decreasing timestamps (gap 0 = the same nanosecond as the previous line)
    times, t = [], BASE
    for g in gaps:
        t += g
        times.append(t)
    log = [f"{stamp(ns)} line-{i}" for i, ns in enumerate(times)]
    cursor = LogCursor()
    delivered: list[str] = []
    position = 0
    for cut in [*sorted(cuts), len(log)]:
        cursor.new_session()
        since = cursor.since_time()
        # the server resends everything from sinceTime (whole seconds, inclusive)
        start = 0 if since is None else next(i for i, ns in enumerate(times) if stamp(ns)[:19] + "Z" >= since)
        end = max(position, min(cut, len(log)))
        for raw in log[start:end]:
            line = split_timestamp(raw)
            assert line is not None
            if cursor.accept(line):
                delivered.append(line.text)
        position = end
    assert delivered == [f"line-{i}" for i in range(len(log))]
