"""The public SDK: core's :class:`Function` plus the small amount of I/O it needs.

``code_to_function("training.py", ...)`` reads the file here, so that core stays pure.
"""

from __future__ import annotations

from pathlib import Path

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.function import Function, new_function
from jupyter_mlres.core.function import code_to_function as _code_to_function
from jupyter_mlres.core.settings import Settings

__all__ = ["Function", "code_to_function", "new_function"]


def code_to_function(
    name_or_file: str = "",
    name: str | None = None,
    handler: str | None = None,
    kind: str = "job",
    image: str | None = None,
    code: str | None = None,
    *,
    settings: Settings | None = None,
) -> Function:
    """MLRun's ``code_to_function``: from a ``.py`` file (read now) or a name (code later)."""
    if code is None and name_or_file.endswith(".py"):
        try:
            code = Path(name_or_file).read_text(encoding="utf-8")
        except OSError as e:
            raise SpecError(
                "filename", name_or_file, "a readable .py file", reason=e.strerror or str(e)
            ) from None
    return _code_to_function(
        name_or_file, name=name, handler=handler, kind=kind, image=image, code=code, settings=settings
    )
