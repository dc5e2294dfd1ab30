"""The layering of DESIGN §2 is a checked contract, not a convention."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_mlres

PACKAGE = Path(jupyter_mlres.__file__).parent
FORBIDDEN_IN_CORE = {
    "kubernetes",
    "IPython",
    "ipywidgets",
    "jupyter_server",
    "subprocess",
    "socket",
    "tornado",
    "threading",
}


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "module", sorted((PACKAGE / "core").rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_core_imports_no_io_framework(module: Path) -> None:
    bad = {
        name
        for name in _imported_modules(module)
        if name.split(".")[0] in FORBIDDEN_IN_CORE
        or name.startswith(
            (
                "jupyter_mlres.backends",
                "jupyter_mlres.kernel",
                "jupyter_mlres.widgets",
                "jupyter_mlres.server",
            )
        )
    }
    assert not bad, f"{module.name} imports {sorted(bad)}; core must stay pure (DESIGN §2)"


def test_runner_uses_only_the_standard_library() -> None:
    # The runner is executed inside the job's image, where jupyter_mlres is not installed.
    # The one exception: dask jobs need `distributed`, imported only inside the function that
    # turns its absence into a clear message (tests/runner/test_runner_dask.py).
    stdlib = set(sys.stdlib_module_names)
    tree = ast.parse((PACKAGE / "runner.py").read_text(encoding="utf-8"))
    top_level = {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert top_level <= stdlib, f"runner.py imports non-stdlib modules: {sorted(top_level - stdlib)}"
    used = {name.split(".")[0] for name in _imported_modules(PACKAGE / "runner.py")}
    assert used - stdlib <= {"distributed"}, f"runner.py imports non-stdlib modules: {sorted(used - stdlib)}"
    lazy = [
        f.name
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef)
        and any(isinstance(n, ast.Import) and n.names[0].name == "distributed" for n in ast.walk(f))
    ]
    assert lazy == ["_import_distributed"]


def test_import_is_lazy() -> None:
    code = (
        "import sys, jupyter_mlres\n"
        "heavy = [m for m in ('kubernetes', 'ipywidgets', 'jupyter_server', 'IPython', 'tornado') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"`import jupyter_mlres` pulled in: {out.stdout.strip()}"
