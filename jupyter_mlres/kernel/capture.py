"""Capture what a cell needs from the notebook so that it runs as a job without re-declaring it.

The names a cell body uses but does not define (found with :mod:`symtable`) are looked up in the
user namespace when the cell runs:

- modules become import lines (``import numpy as np``); functions and classes that live in an
  importable module become ``from module import name``;
- functions and classes defined in the notebook are copied as source (IPython keeps every cell's
  source in :mod:`linecache`), and the names *they* use are captured the same way;
- anything else is captured by value: pickled with the standard library when it can be, else with
  cloudpickle (then the job's image needs cloudpickle, and the preview says so).

Values travel in the ``capture.pkl`` attachment: one pickle of ``{name: value}`` that the
runner loads into the code's globals (docs/internals.md). The total size is
limited by ``Settings.capture_size_limit``; past it a :class:`SpecError` names the largest values.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import io
import pickle
import symtable
import sys
import textwrap
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlres.core.errors import SpecError

__all__ = ["CAPTURE_FILE", "Capture", "CapturedName", "capture_cell", "free_names"]

CAPTURE_FILE = "capture.pkl"

# IPython's own names in the user namespace; never shipped to a job.
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "display"})


@dataclass(frozen=True)
class CapturedName:
    """One captured name, as listed by ``--dry-run`` and the preview."""

    name: str
    how: str
    """``import``, ``source`` or ``value``."""
    detail: str
    """The import line, ``def f`` / ``class C`` with its line count, or the value's type and size."""
    size: int = 0
    needs: str = ""
    """A third-party package the job's image needs to load it (``cloudpickle``), else ""."""

    def describe(self) -> str:
        text = f"{self.name}: {self.detail}"
        return f"{text} (needs {self.needs} in the image)" if self.needs else text


@dataclass
class Capture:
    """The result of capturing a cell: code to prepend, values to attach, and the list."""

    imports: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    """Captured by value: name -> the value itself."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Pickled size of each value, in bytes."""
    needs: dict[str, str] = field(default_factory=dict)
    items: list[CapturedName] = field(default_factory=list)

    @property
    def prelude(self) -> str:
        """Code that runs before the cell body: the imports, then the captured definitions."""
        parts = [*self.imports, *self.sources]
        return "\n".join(parts)

    @property
    def requirements(self) -> list[str]:
        return sorted(set(self.needs.values()))

    def code(self, body: str) -> str:
        """``main.py``: prelude, a marker line, then the cell body unchanged."""
        if not self.prelude:
            return body
        return f"{self.prelude}\n# ---- %%mlrun cell ----\n{body}"

    def attachments(self) -> dict[str, bytes]:
        """``{"capture.pkl": pickle of {name: value}}`` (cloudpickle when a value needs it)."""
        if not self.values:
            return {}
        if self.needs:
            import cloudpickle

            data: bytes = cloudpickle.dumps(self.values, protocol=4)
        else:
            data = pickle.dumps(self.values, protocol=4)
        return {CAPTURE_FILE: data}

    def describe(self) -> list[str]:
        return [item.describe() for item in self.items]


def free_names(source: str, filename: str = "<cell>") -> list[str]:
    """Names ``source`` reads but does not bind first at module level (including reads from
    inside its functions and classes), in order of first use. ``df = df.dropna()`` reads the
    notebook's ``df`` before binding its own, so ``df`` is free. Raises ``SyntaxError``."""
    table = symtable.symtable(source, filename, "exec")
    tree = ast.parse(source)
    bound = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    early = _read_before_bound(tree.body)
    bound -= early
    used: set[str] = set(early)

    def visit(t: symtable.SymbolTable) -> None:
        for s in t.get_symbols():
            name = s.get_name()
            if s.is_referenced() and (t is table or s.is_global()) and name not in bound:
                used.add(name)
        for child in t.get_children():
            visit(child)

    visit(table)
    positions: dict[str, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in used:
            where = (node.lineno, node.col_offset)
            positions[node.id] = min(positions.get(node.id, where), where)
    return sorted(used, key=lambda n: (positions.get(n, (0, 0)), n))


def _read_before_bound(body: list[ast.stmt]) -> set[str]:
    """Module-level names whose first use, in execution order, is a read."""
    first: dict[str, str] = {}

    def touch(names: Iterable[str], how: str) -> None:
        for name in names:
            first.setdefault(name, how)

    def loads(*nodes: ast.AST | None) -> None:
        for node in nodes:
            if node is not None:
                touch(_names(node, ast.Load), "load")

    def stores(*nodes: ast.AST | None) -> None:
        for node in nodes:
            if node is not None:
                touch(_names(node, ast.Store), "store")

    def scan(statements: list[ast.stmt]) -> None:
        for st in statements:
            if isinstance(st, ast.FunctionDef | ast.AsyncFunctionDef):
                loads(*st.decorator_list, *st.args.defaults, *(d for d in st.args.kw_defaults if d))
                touch([st.name], "store")
            elif isinstance(st, ast.ClassDef):
                loads(*st.decorator_list, *st.bases, *(k.value for k in st.keywords))
                touch([st.name], "store")
            elif isinstance(st, ast.Assign):
                loads(st.value)
                stores(*st.targets)
            elif isinstance(st, ast.AugAssign):
                loads(st.value)
                touch(_names(st.target, ast.Store), "load")
            elif isinstance(st, ast.AnnAssign):
                loads(st.value)
                stores(st.target)
            elif isinstance(st, ast.For | ast.AsyncFor):
                loads(st.iter)
                stores(st.target)
                scan(st.body)
                scan(st.orelse)
            elif isinstance(st, ast.If | ast.While):
                loads(st.test)
                scan(st.body)
                scan(st.orelse)
            elif isinstance(st, ast.With | ast.AsyncWith):
                for item in st.items:
                    loads(item.context_expr)
                    stores(item.optional_vars)
                scan(st.body)
            elif isinstance(st, ast.Try):
                scan(st.body)
                for handler in st.handlers:
                    loads(handler.type)
                    if handler.name:
                        touch([handler.name], "store")
                    scan(handler.body)
                scan(st.orelse)
                scan(st.finalbody)
            elif isinstance(st, ast.Import | ast.ImportFrom):
                touch(((a.asname or a.name).split(".")[0] for a in st.names), "store")
            else:
                loads(st)
                stores(st)

    scan(body)
    return {name for name, how in first.items() if how == "load"}


def _names(node: ast.AST, ctx: type[ast.expr_context]) -> list[str]:
    """Names in ``node`` with context ``ctx``, in source order, outside nested scopes."""
    found: list[tuple[int, int, str]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        # Own scopes (symtable reports what they read), except what runs in the enclosing one:
        # a comprehension's first iterable and a lambda's defaults.
        if isinstance(current, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
            stack.append(current.generators[0].iter)
            continue
        if isinstance(current, ast.Lambda):
            stack.extend(d for d in (*current.args.defaults, *current.args.kw_defaults) if d is not None)
            continue
        if isinstance(current, ast.Name) and isinstance(current.ctx, ctx):
            found.append((current.lineno, current.col_offset, current.id))
        stack.extend(ast.iter_child_nodes(current))
    return [name for _line, _col, name in sorted(found)]


class _StdlibPickler(pickle.Pickler):
    """Refuses anything defined in ``__main__`` (the notebook), which the job could not import."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type | types.FunctionType) and getattr(obj, "__module__", None) == "__main__":
            raise pickle.PicklingError(f"{obj!r} is defined in the notebook")
        return NotImplemented


def _dumps_stdlib(value: Any) -> bytes:
    buf = io.BytesIO()
    _StdlibPickler(buf, protocol=4).dump(value)
    return buf.getvalue()


def _size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def _importable(value: Any) -> str | None:
    """``from module import name`` target for functions/classes living in a real module."""
    module_name = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str) or "." in qualname:
        return None
    if module_name in ("__main__", "builtins") or module_name.startswith("__"):
        return None
    module = sys.modules.get(module_name)
    if module is None or getattr(module, qualname, None) is not value:
        return None
    return f"{module_name}:{qualname}"


def _source_from_history(name: str, history: Sequence[str]) -> str | None:
    """The newest top-level ``def name``/``class name`` in the executed cells (``_ih``)."""
    for cell in reversed(history):
        if name not in cell:
            continue
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        lines = cell.splitlines(keepends=True)
        for node in reversed(tree.body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                return "".join(lines[start - 1 : node.end_lineno])
    return None


def _notebook_source(value: Any, history: Sequence[str] = ()) -> str | None:
    """Source of a function/class defined in the notebook, or None when it cannot be copied."""
    if getattr(value, "__module__", None) != "__main__":
        return None
    if isinstance(value, types.FunctionType):
        if value.__closure__ or value.__name__ == "<lambda>" or "<locals>" in value.__qualname__:
            return None
    elif not isinstance(value, type):
        return None
    try:
        source = textwrap.dedent(inspect.getsource(value))
    except (OSError, TypeError):
        # Python < 3.13 cannot find a class defined in IPython (its module has no file).
        found = _source_from_history(value.__name__, history)
        if found is None:
            return None
        source = found
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if len(tree.body) != 1 or not isinstance(
        tree.body[0], ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    ):
        return None
    if tree.body[0].name != value.__name__:
        return None
    return source.rstrip() + "\n"


class _Capturer:
    def __init__(self, user_ns: Mapping[str, Any], hidden: Iterable[str], size_limit: int) -> None:
        self.user_ns = user_ns
        self.hidden = set(hidden) | _IPYTHON_NAMES
        self.size_limit = size_limit
        self.result = Capture()
        self.seen: set[str] = set()
        history = user_ns.get("_ih", ())
        self.history: list[str] = (
            [c for c in history if isinstance(c, str)] if isinstance(history, list) else []
        )
        self.modules: dict[str, str] = {}
        """Captured module names -> module, for submodule imports (``xml.dom.minidom``)."""

    def import_submodules(self, sources: Iterable[str]) -> None:
        """``xml.dom.minidom.parse`` in the code needs ``import xml.dom.minidom`` in the job,
        which ``import xml`` alone does not do."""
        extra: dict[str, None] = {}
        for source in sources:
            for node in ast.walk(ast.parse(source)):
                chain = _attribute_chain(node)
                if not chain or chain[0] not in self.modules:
                    continue
                base = self.modules[chain[0]]
                for i in range(len(chain) - 1, 0, -1):
                    candidate = ".".join([base, *chain[1 : i + 1]])
                    if candidate in sys.modules:
                        extra.setdefault(f"import {candidate}")
                        break
        self.result.imports.extend(line for line in extra if line not in self.result.imports)

    def wanted(self, name: str) -> bool:
        if name in self.seen or name.startswith("_") or name in self.hidden or name not in self.user_ns:
            return False
        value = self.user_ns[name]
        # A builtin the user did not rebind is available in the job anyway.
        return not (hasattr(builtins, name) and getattr(builtins, name) is value)

    def capture_names(self, names: Iterable[str]) -> None:
        for name in names:
            if self.wanted(name):
                self.seen.add(name)
                self.capture_one(name, self.user_ns[name])

    def capture_one(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType):
            line = f"import {value.__name__}" + (f" as {name}" if name != value.__name__ else "")
            self.result.imports.append(line)
            self.result.items.append(CapturedName(name, "import", line))
            self.modules[name] = value.__name__
            return
        target = _importable(value)
        if target is not None:
            module, _, attr = target.partition(":")
            line = f"from {module} import {attr}" + (f" as {name}" if name != attr else "")
            self.result.imports.append(line)
            self.result.items.append(CapturedName(name, "import", line))
            return
        source = _notebook_source(value, self.history) if getattr(value, "__name__", None) == name else None
        if source is not None:
            try:
                deps = free_names(source)
            except SyntaxError:
                deps = []
            # Dependencies first, so that class bases and decorators exist when this is defined.
            self.capture_names(deps)
            self.result.sources.append(source)
            what = "class" if isinstance(value, type) else "def"
            lines = source.count("\n")
            self.result.items.append(CapturedName(name, "source", f"{what} {name} ({lines} lines of source)"))
            return
        self.capture_value(name, value)

    def capture_value(self, name: str, value: Any) -> None:
        needs = ""
        try:
            data = _dumps_stdlib(value)
        except Exception:
            try:
                import cloudpickle

                data = cloudpickle.dumps(value, protocol=4)
                needs = "cloudpickle"
            except Exception as e:
                raise SpecError(
                    f"capture.{name}",
                    _short_repr(value),
                    "picklable values, modules, functions and classes",
                    reason=f"cannot be sent to the job ({type(e).__name__}: {e}); create it inside the cell",
                ) from None
        self.result.values[name] = value
        self.result.sizes[name] = len(data)
        if needs:
            self.result.needs[name] = needs
        kind = type(value).__name__
        self.result.items.append(
            CapturedName(name, "value", f"{kind} by value ({_size_text(len(data))})", len(data), needs)
        )
        self.check_size()

    def check_size(self) -> None:
        total = sum(self.result.sizes.values())
        if total <= self.size_limit:
            return
        largest = sorted(self.result.sizes.items(), key=lambda kv: kv[1], reverse=True)[:3]
        names = ", ".join(f"{n} ({_size_text(size)})" for n, size in largest)
        raise SpecError(
            f"capture.{largest[0][0]}",
            _size_text(largest[0][1]),
            f"at most {_size_text(self.size_limit)} in all (Settings.capture_size_limit)",
            reason=f"captured values total {_size_text(total)}; largest: {names}; "
            "load big data inside the cell (e.g. from a --volume) instead",
        )


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def capture_cell(
    body: str,
    user_ns: Mapping[str, Any],
    *,
    hidden: Iterable[str] = (),
    size_limit: int = 512 * 1024,
) -> Capture:
    """Capture what ``body`` needs from ``user_ns`` (see the module docstring).

    A syntax error in the body is a :class:`SpecError` naming its line.
    """
    try:
        names = free_names(body)
    except SyntaxError as e:
        raise SpecError(
            "cell",
            (e.text or "").strip(),
            "valid Python (IPython magics and shell escapes do not run inside a job)",
            reason=f"syntax error on line {e.lineno}: {e.msg}",
        ) from None
    capturer = _Capturer(user_ns, hidden, size_limit)
    capturer.capture_names(names)
    capturer.import_submodules([body, *capturer.result.sources])
    return capturer.result


def _attribute_chain(node: ast.AST) -> list[str]:
    """``a.b.c`` (an Attribute over a Name) -> ["a", "b", "c"]; anything else -> []."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or not parts:
        return []
    return [node.id, *reversed(parts)]
