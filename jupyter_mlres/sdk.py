"""The public SDK: core's :class:`Function` plus the I/O it needs (reading files, running).

``code_to_function("training.py", ...)`` reads the file here, so that core stays pure, and
``fn.run()`` submits through a backend and returns a :class:`~jupyter_mlres.kernel.session.Run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlres.core import function as _core
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.settings import Settings

if TYPE_CHECKING:
    from jupyter_mlres.backends.base import Backend
    from jupyter_mlres.kernel.session import Run
    from jupyter_mlres.widgets.panel import ResourcePanel

__all__ = ["Function", "code_to_function", "new_function"]


class Function(_core.Function):
    """A job: code, a handler, an image and resources, with MLRun's verbs, plus ``run()``."""

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        backend: str | Backend | None = None,
        watch: bool = True,
        settings: Settings | None = None,
        *,
        attachments: Mapping[str, bytes] | None = None,
    ) -> Run:
        """Submit this function once and return the run handle.

        ``backend``: a name (``"local"``, ``"kubernetes"``) or a backend object; default from
        settings. ``watch=True`` shows status and logs until the run ends (interrupting detaches;
        the job keeps running).
        """
        from jupyter_mlres.kernel.runcell import run_function

        if self.spec.code is None:
            raise SpecError(
                "spec.code",
                None,
                "code text: new_function(name, code=...) or code_to_function('file.py')",
                reason="nothing to run",
            )
        return run_function(
            self,
            params=params,
            backend=backend,
            watch=watch,
            settings=self._settings(settings),
            attachments=attachments,
        )

    def panel(self, settings: Settings | None = None) -> ResourcePanel:
        """The resource panel for this function: edit its resources with a live pod-spec preview
        and run it from there. Display it by leaving it as a cell's last expression. The
        function itself is not changed; the panel's Run submits what the panel shows."""
        from jupyter_mlres.widgets.panel import ResourcePanel

        return ResourcePanel(self, settings=self._settings(settings))


def _as_sdk(fn: _core.Function) -> Function:
    # Core's factories build the core class; ours adds methods only, no state.
    fn.__class__ = Function
    return fn  # type: ignore[return-value]


def new_function(
    name: str = "",
    kind: str = "job",
    image: str | None = None,
    code: str | None = None,
    handler: str | None = None,
    *,
    settings: Settings | None = None,
) -> Function:
    """MLRun's ``new_function``: a function from code text (or none yet)."""
    return Function(name, kind, image=image, code=code, handler=handler, settings=settings)


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
    return _as_sdk(
        _core.code_to_function(
            name_or_file, name=name, handler=handler, kind=kind, image=image, code=code, settings=settings
        )
    )
