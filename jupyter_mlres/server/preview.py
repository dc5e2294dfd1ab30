"""Parse, apply form values to, validate and preview a ``%%mlrun`` line — all through core.

The sidebar never interprets the magic's grammar itself: it sends the cell's first line and the
form's values here and writes back the line this returns.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from jupyter_mlres.core.errors import BackendUnavailable
from jupyter_mlres.core.settings import Settings

__all__ = ["available", "preview"]


def available() -> bool:
    try:
        importlib.import_module("jupyter_mlres.core.cellargs")
    except ImportError:
        return False
    return True


def preview(settings: Settings, line: str, values: Mapping[str, Any], code: str) -> dict[str, Any]:
    if not available():
        raise BackendUnavailable("preview is not available: jupyter_mlres.core.cellargs is not installed")
    raise BackendUnavailable("preview is not wired to core.cellargs yet")
