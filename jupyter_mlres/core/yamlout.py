"""Multi-document YAML for previews and ``kubectl apply -f -``, with comments where they help.

Manifests are JSON-shaped (dicts, lists, strings, numbers, booleans, None), so a small emitter
writes them directly: block style, keys in rendering order, the code as a readable ``|`` block.
It is several times faster than PyYAML's representer (the preview re-renders on every keystroke)
and is checked against ``yaml.safe_load`` by property tests. Any string that is not obviously a
plain scalar is written as a JSON string, which is valid YAML.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Final

from yaml.emitter import Emitter
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from jupyter_mlres.core.runs import RenderedRun

__all__ = [
    "double_quoted",
    "dump_yaml",
    "literal_block_header",
    "literal_block_ok",
    "run_to_yaml",
    "yaml_float",
]

_STR_TAG: Final = "tag:yaml.org,2002:str"
_RESOLVER: Final = Resolver()
# Conservative: ASCII words, paths, image references, label keys. ':' only inside (never ': ').
_PLAIN: Final = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./@+=-]*(?::[A-Za-z0-9_./@+=-]+)*")
# Characters YAML cannot carry literally in a block scalar (besides \n and \t): outside its
# printable set, the byte order mark, and the line and paragraph separators (PyYAML breaks a
# block's line at them).
_NOT_PRINTABLE: Final = re.compile(
    "[^\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\ufeff\u2028\u2029]"
)
_NEEDS_DOUBLE_QUOTES: Final = re.compile(f"[\t\n\r\\\\]|{_NOT_PRINTABLE.pattern}")


class _Analysis:
    allow_unicode = True  # the one emitter setting PyYAML's scalar analysis reads


@lru_cache(maxsize=4096)
def _scalar(value: str) -> str:
    """``value`` as a one-line YAML scalar, styled as PyYAML would: plain when unambiguous,
    else single-quoted, else double-quoted."""
    resolved = _RESOLVER.resolve(ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    if resolved != _STR_TAG:
        return _quote(value)
    if _PLAIN.fullmatch(value):
        return value
    analysis = Emitter.analyze_scalar(_Analysis(), value)  # type: ignore[arg-type]
    if not analysis.empty and not analysis.multiline and analysis.allow_block_plain:
        return value
    return _quote(value)


def _quote(value: str) -> str:
    """A quoted scalar: single quotes as PyYAML writes them ('2', 'true') when the text is one
    printable line; else double quotes."""
    if not _NEEDS_DOUBLE_QUOTES.search(value):
        return "'" + value.replace("'", "''") + "'"
    return double_quoted(value)


def double_quoted(value: str) -> str:
    """A double-quoted YAML scalar: JSON's escapes plus YAML's for what YAML cannot carry
    literally (astral characters stay whole)."""
    return _NOT_PRINTABLE.sub(_escape, json.dumps(value, ensure_ascii=False))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def literal_block_ok(value: str) -> bool:
    """Can multi-line ``value`` be a ``|`` block (kept verbatim), or must it be quoted?"""
    return "\n" in value and value[0] not in " \n" and "\r" not in value and not _NOT_PRINTABLE.search(value)


def literal_block_header(value: str) -> str:
    """``|-``, ``|`` or ``|+``: the chomping that gives back ``value``'s trailing newlines."""
    trailing = len(value) - len(value.rstrip("\n"))
    return "|-" if trailing == 0 else ("|" if trailing == 1 else "|+")


def _block_literal(value: str, indent: int) -> list[str] | None:
    """A multi-line string as a ``|`` block (None when it must be quoted instead)."""
    if not literal_block_ok(value):
        return None
    body = value.rstrip("\n")
    trailing = len(value) - len(body)
    pad = " " * indent
    lines = [f"{pad}{line}" if line else "" for line in body.split("\n")]
    lines.extend([""] * (trailing - 1) if trailing > 1 else [])
    return [literal_block_header(value), *lines]


def _inline(value: Any) -> str | None:
    """A value that fits after ``key: `` or ``- `` on one line (None for nested blocks)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return yaml_float(value)
    if isinstance(value, str):
        return None if "\n" in value else _scalar(value)
    if isinstance(value, dict) and not value:
        return "{}"
    if isinstance(value, list) and not value:
        return "[]"
    if isinstance(value, (dict, list)):
        return None
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def yaml_float(value: float) -> str:
    """A float as YAML 1.1 reads it back (``.nan``, ``.inf``, a dot in every mantissa)."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    # YAML 1.1 (PyYAML) reads 1e+100 as a string: the mantissa needs a dot.
    return text.replace("e", ".0e") if "e" in text and "." not in text else text


def _emit(value: Any, indent: int, out: list[str]) -> None:
    """Append the lines of a non-empty dict or list at ``indent`` spaces."""
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{_scalar(str(key))}:"
            _emit_item(head, item, indent, out, in_list=False)
    else:
        for item in value:
            _emit_item(f"{pad}-", item, indent, out, in_list=True)


def _emit_item(head: str, item: Any, indent: int, out: list[str], *, in_list: bool) -> None:
    inline = _inline(item)
    if inline is not None:
        out.append(f"{head} {inline}")
        return
    if isinstance(item, str):
        block = _block_literal(item, indent + 2)
        if block is None:
            out.append(f"{head} {_quote(item)}")
        else:
            out.append(f"{head} {block[0]}")
            out.extend(block[1:])
        return
    if in_list:
        # "- key: value" on the dash line, the rest of the mapping aligned under it.
        start = len(out)
        _emit(item, indent + 2, out)
        out[start] = f"{head} {out[start][indent + 2 :]}"
    elif isinstance(item, list):
        out.append(head)
        _emit(item, indent, out)  # PyYAML's (and kubectl's) style: "- " at the key's indent
    else:
        out.append(head)
        _emit(item, indent + 2, out)


def dump_yaml(document: Any) -> str:
    """One document (a dict or list), keys in rendering order, block style."""
    inline = _inline(document)
    if inline is not None:
        return inline + "\n"
    if isinstance(document, str):
        return _quote(document) + "\n"
    out: list[str] = []
    _emit(document, 0, out)
    return "\n".join(out) + "\n"


def run_to_yaml(run: RenderedRun) -> str:
    """All manifests of ``run`` as YAML; rendering notes become leading ``#`` comments."""
    header = [f"# {line}" for note in run.notes for line in note.splitlines()]
    documents: list[str] = []
    for manifest in run.manifests:
        comments: list[str] = []
        if manifest.get("kind") == "Secret":
            name = manifest["metadata"]["name"]
            keys = ", ".join(sorted(run.secret_data.get(name, {})))
            comments.append(f"# stringData ({keys}): value redacted; added by the backend at submit time")
        elif manifest.get("kind") == "ConfigMap":
            comments.append("# the job's code, runner and parameters (mounted read-only at /mlres/code)")
        documents.append("\n".join([*comments, dump_yaml(manifest).rstrip("\n")]))
    body = "\n---\n".join(documents) + "\n"
    return "\n".join(header) + ("\n" if header else "") + "---\n" + body
