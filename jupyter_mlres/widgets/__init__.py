"""widgets layer of jupyter_mlres (see DESIGN §2): the resource panel with a live preview.

``ResourcePanel`` is imported lazily so that ``import jupyter_mlres.widgets`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlres.widgets.panel import ResourcePanel

__all__ = ["ResourcePanel"]


def __getattr__(name: str) -> Any:
    if name == "ResourcePanel":
        from jupyter_mlres.widgets.panel import ResourcePanel

        return ResourcePanel
    raise AttributeError(name)
