"""The full-log format: every line kept, in order, whatever the pipe chunking."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlres.backends.local.logfile import MAX_LINE_BYTES, LogCursor, LogWriter, tail_offset
from jupyter_mlres.core.runs import RunId

RUN = RunId("r")


def _read_all(path: Path) -> list[tuple[int, str, str]]:
    cursor = LogCursor(RUN, path)
    return [(line.replica, line.stream, line.text) for batch in cursor.read() for line in batch]


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=30),
        max_size=40,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_any_chunking_of_a_stream_gives_back_its_lines(
    tmp_path_factory, lines: list[str], cuts: list[int]
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("log") / "output.log"
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    writer = LogWriter(path)
    for start, end in itertools.pairwise(bounds):
        writer.feed(0, "stdout", data[start:end], 1.5)
        writer.feed(1, "stderr", b"x\n", 1.5)  # another replica interleaved
        writer.flush()
    writer.close(2.0)
    records = _read_all(path)
    assert [text for replica, _, text in records if replica == 0] == lines
    assert all(stream == "stderr" for replica, stream, _ in records if replica == 1)


def test_a_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "log")
    writer.feed(0, "stdout", b"done\nno newline", 1.0)
    writer.end_of_stream(0, "stdout", 1.0)
    writer.close(1.0)
    assert _read_all(tmp_path / "log") == [(0, "stdout", "done"), (0, "stdout", "no newline")]


def test_a_reader_sees_only_complete_records_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"1.000000 0 o first\n1.000000 0 o sec")
    cursor = LogCursor(RUN, path)
    assert [line.text for batch in cursor.read() for line in batch] == ["first"]
    with open(path, "ab") as f:
        f.write(b"ond\n")
    assert [line.text for batch in cursor.read() for line in batch] == ["second"]


def test_invalid_utf8_and_huge_lines_survive(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "log")
    writer.feed(0, "stdout", b"caf\xe9\n", 1.0)
    writer.feed(0, "stdout", b"y" * (MAX_LINE_BYTES + 10), 1.0)
    writer.close(1.0)
    texts = [text for _, _, text in _read_all(tmp_path / "log")]
    assert texts[0] == "caf\ufffd"
    assert "".join(texts[1:]) == "y" * (MAX_LINE_BYTES + 10)


def test_tail_offset_finds_the_last_records(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"".join(b"1.0 0 o line %d\n" % i for i in range(10000)) + b"1.0 0 o partial")
    for n in (0, 1, 3, 9999, 10000, 20000):
        cursor = LogCursor(RUN, path, tail_offset(path, n))
        texts = [line.text for batch in cursor.read() for line in batch]
        assert texts == [f"line {i}" for i in range(max(0, 10000 - n), 10000)]
    assert tail_offset(tmp_path / "missing", 5) == 0
