"""YAML for the panel's preview: every line knows the field it shows, so it can carry a comment
saying where that value came from and be highlighted when the last change altered it.

Pure (no ipywidgets): the emitted text is plain YAML plus ``#`` comments, and
``yaml.safe_load(text)`` gives back exactly the rendered document — the preview never shows
anything the backends would not submit.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from jupyter_mlres.core.yamlout import double_quoted, literal_block_header, literal_block_ok, yaml_float

__all__ = [
    "Annotator",
    "Path",
    "PreviewLine",
    "changed_lines",
    "emit_yaml",
    "lines_to_html",
    "lines_to_text",
]

Path = tuple[str | int, ...]
Annotator = Callable[[Path, Any], "str | None"]
"""(path, value) -> a short comment for the line that introduces ``path``, or None."""

_INDENT = "  "
_PLAIN = re.compile(r"[A-Za-z0-9_./]([A-Za-z0-9_./@+:-]*[A-Za-z0-9_./@+-])?")
_RESOLVER = yaml.resolver.Resolver()


@dataclass(frozen=True)
class PreviewLine:
    """One line of YAML (``text``, without comment) and the comment that goes with it."""

    text: str
    path: Path
    comment: str = ""


@lru_cache(maxsize=4096)
def _plain_ok(text: str) -> bool:
    if not _PLAIN.fullmatch(text):
        return False
    resolved = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return bool(resolved == "tag:yaml.org,2002:str")


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return yaml_float(value)
    return _string(str(value))


@lru_cache(maxsize=4096)
def _string(text: str) -> str:
    return text if _plain_ok(text) else double_quoted(text)


class _Emitter:
    def __init__(self, annotate: Annotator | None) -> None:
        self.annotate = annotate
        self.lines: list[PreviewLine] = []

    def note(self, path: Path, value: Any) -> str:
        if self.annotate is None:
            return ""
        return self.annotate(path, value) or ""

    def add(self, text: str, path: Path, extra: str = "", comment: str = "") -> None:
        joined = f"{extra}; {comment}" if extra and comment else extra or comment
        self.lines.append(PreviewLine(text, path, joined))

    def value_after(self, head: str, indent: str, path: Path, value: Any, extra: str = "") -> None:
        """``head`` is ``key:`` or ``-``; the value goes on the same line or below it."""
        comment = self.note(path, value)
        if isinstance(value, dict) and value:
            if head == "-":
                self.mapping(
                    value, indent + _INDENT, path, first_prefix=indent + "- ", first_notes=(extra, comment)
                )
                return
            self.add(f"{indent}{head}", path, extra, comment)
            self.mapping(value, indent + _INDENT, path)
        elif isinstance(value, list | tuple) and value:
            self.add(f"{indent}{head}", path, extra, comment)
            self.sequence(value, indent + _INDENT, path)
        elif isinstance(value, str) and literal_block_ok(value):
            self.add(f"{indent}{head} {literal_block_header(value)}", path, extra, comment)
            body = value[:-1] if value.endswith("\n") else value
            for i, line in enumerate(body.split("\n")):
                self.add(f"{indent}{_INDENT}{line}" if line else "", (*path, f"line{i}"))
        else:
            if isinstance(value, dict):
                text = "{}"
            elif isinstance(value, list | tuple):
                text = "[]"
            else:
                text = _scalar(value)
            self.add(f"{indent}{head} {text}", path, extra, comment)

    def mapping(
        self,
        value: dict[str, Any],
        indent: str,
        path: Path,
        *,
        first_prefix: str | None = None,
        first_notes: tuple[str, ...] = (),
    ) -> None:
        for i, (key, item) in enumerate(value.items()):
            key_text = _scalar(str(key))
            if i == 0 and first_prefix is not None:
                start = len(self.lines)
                self.value_after(f"{key_text}:", "", (*path, key), item)
                first = self.lines[start]
                # The item's own note leads: it describes the whole list entry.
                merged = "; ".join(c for c in (*first_notes, first.comment) if c)
                self.lines[start] = PreviewLine(first_prefix + first.text.lstrip(), path, merged)
                # Lines below the first key belong to the same entry: re-indent them under it.
                for j in range(start + 1, len(self.lines)):
                    line = self.lines[j]
                    if line.text:
                        self.lines[j] = PreviewLine(indent + line.text, line.path, line.comment)
                continue
            self.value_after(f"{key_text}:", indent, (*path, key), item)

    def sequence(self, value: Sequence[Any], indent: str, path: Path) -> None:
        for i, item in enumerate(value):
            self.value_after("-", indent, (*path, i), item)


def emit_yaml(documents: Sequence[Any], annotate: Annotator | None = None) -> list[PreviewLine]:
    """Block-style YAML lines for ``documents`` (several are separated by ``---``).

    Keys keep their order. Paths start with the document index when there are several.
    """
    emitter = _Emitter(annotate)
    many = len(documents) > 1
    for n, document in enumerate(documents):
        base: Path = (n,) if many else ()
        if many:
            emitter.add("---", base)
        if isinstance(document, dict) and document:
            emitter.mapping(document, "", base)
        elif isinstance(document, list | tuple) and document:
            emitter.sequence(document, "", base)
        else:
            emitter.value_after("", "", base, document)
            last = emitter.lines[-1]
            emitter.lines[-1] = PreviewLine(last.text.lstrip(), last.path, last.comment)
    return emitter.lines


def lines_to_text(lines: Sequence[PreviewLine]) -> str:
    """The YAML text with each comment at the end of its line."""
    return "".join(f"{line.text}  # {line.comment}\n" if line.comment else f"{line.text}\n" for line in lines)


def changed_lines(before: Sequence[PreviewLine], after: Sequence[PreviewLine]) -> frozenset[int]:
    """Indexes of lines in ``after`` that differ from ``before`` (added or altered), plus the
    line following a removal, so a deletion is visible too. Comments count: a value that changed
    source (user -> default) is a change the user should see."""
    old = [f"{line.text}#{line.comment}" for line in before]
    new = [f"{line.text}#{line.comment}" for line in after]
    marked: set[int] = set()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            marked.update(range(j1, j2))
        elif tag == "delete" and after:
            marked.add(min(j1, len(after) - 1))
    return frozenset(marked)


def lines_to_html(lines: Sequence[PreviewLine], changed: frozenset[int] = frozenset()) -> str:
    """A ``<pre>`` whose changed lines carry the ``mlres-changed`` class and comments the
    ``mlres-comment`` class (the panel's stylesheet colours them with Jupyter theme variables)."""
    parts: list[str] = []
    for i, line in enumerate(lines):
        css = "mlres-line mlres-changed" if i in changed else "mlres-line"
        body = html.escape(line.text)
        if line.comment:
            body += f'  <span class="mlres-comment"># {html.escape(line.comment)}</span>'
        parts.append(f'<span class="{css}">{body or " "}</span>')
    # Each line is a block already: newlines between them would double the spacing.
    return '<pre class="mlres-preview">' + "".join(parts) + "</pre>"
