"""A terminal IPython shell with %%mlrun loaded on a throwaway run root, for the benchmarks."""

from __future__ import annotations

import tempfile
from typing import Any

from IPython.terminal.interactiveshell import TerminalInteractiveShell

from jupyter_mlres.core.settings import Settings
from jupyter_mlres.kernel.magics import MlresMagics


def make_shell(view: str = "text", **settings: Any) -> tuple[TerminalInteractiveShell, MlresMagics, Settings]:
    shell = TerminalInteractiveShell.instance(colors="nocolor")
    if "MlresMagics" not in shell.magics_manager.registry:
        shell.run_line_magic("load_ext", "jupyter_mlres")
    magics: MlresMagics = shell.magics_manager.registry["MlresMagics"]
    chosen = Settings(local_run_root=tempfile.mkdtemp(prefix="mlres-bench-"), **settings)
    magics.settings = chosen
    magics.view = view
    return shell, magics, chosen
