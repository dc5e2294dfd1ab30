"""Small file primitives shared by the supervisor and the kernel side.

Status files are replaced atomically (write a temporary file, then ``os.replace``) so a reader
never sees half a file; event files are appended one JSON line per ``write`` (``O_APPEND``), so
several writers never interleave inside a line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["append_json_line", "read_json", "read_json_lines", "write_json_atomic"]


def write_json_atomic(path: Path, data: Any, *, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        # Compact: indenting switches json to its pure-Python encoder, several times slower.
        os.write(fd, json.dumps(data, separators=(",", ":")).encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def append_json_line(path: Path, data: Any) -> None:
    line = (json.dumps(data, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_json_lines(path: Path, offset: int = 0) -> tuple[list[Any], int]:
    """The complete lines after byte ``offset`` and the offset just past them."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    items = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
    return items, offset + end
