"""Orchestration shared by ``%%mlrun`` and ``Function.run()``: build, preview, submit, watch."""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from jupyter_mlres.backends.base import Backend
from jupyter_mlres.backends.registry import create_backend
from jupyter_mlres.core.cellargs import CellArgs, apply_cell_args, to_magic_line
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.runs import RenderedRun
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.core.yamlout import run_to_yaml
from jupyter_mlres.kernel.capture import Capture, capture_cell
from jupyter_mlres.kernel.session import Run, ViewMode, detect_view_mode, submit

__all__ = [
    "build_cell_function",
    "detach_message",
    "get_settings",
    "preview_text",
    "resolve_backend",
    "run_function",
    "show",
    "watch_run",
]

RUNNER_FILE = "mlres_runner.py"


def get_settings(config: Any = None) -> Settings:
    """The service settings: Jupyter config files, ``config`` (the shell's traitlets config,
    so ``c.MlresConfig...`` in ``ipython_config.py`` applies), then the environment."""
    from jupyter_mlres.config import load_settings

    return load_settings(config=config)


def resolve_backend(
    backend: str | Backend | None, settings: Settings, cache: dict[str, Backend] | None = None
) -> Backend:
    """A backend object from a name (default: ``settings.backend``), reusing ``cache``."""
    if backend is not None and not isinstance(backend, str):
        return backend
    name = backend or settings.backend
    if cache is not None and name in cache:
        return cache[name]
    made = create_backend(name, settings)
    if cache is not None:
        cache[name] = made
    return made


def _defined_functions(body: str) -> list[str]:
    return [
        node.name for node in ast.parse(body).body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def build_cell_function(
    args: CellArgs,
    body: str,
    settings: Settings,
    user_ns: Mapping[str, Any],
    hidden: Iterable[str] = (),
) -> tuple[Any, Capture]:
    """The Function a ``%%mlrun`` cell describes, and what it captured from the notebook."""
    from jupyter_mlres.sdk import Function

    if args.kind == "dask":
        # The job provides its own connected ``client``; a notebook's client must not travel.
        hidden = [*hidden, "client"]
    capture = capture_cell(body, user_ns, hidden=hidden, size_limit=settings.capture_size_limit)
    if args.handler is not None:
        defined = _defined_functions(body)
        if args.handler not in defined:
            raise SpecError(
                "--handler",
                args.handler,
                defined or "a function defined in the cell",
                reason="not defined in the cell",
            )
    name = args.name or args.handler or "job"
    fn = Function(name, args.kind or "job", settings=settings, code=capture.code(body))
    apply_cell_args(fn, args)
    return fn, capture


def _without_runner(rendered: RenderedRun) -> RenderedRun:
    manifests = copy.deepcopy(list(rendered.manifests))
    for manifest in manifests:
        data = manifest.get("data") if manifest.get("kind") == "ConfigMap" else None
        if isinstance(data, dict) and RUNNER_FILE in data:
            lines = data[RUNNER_FILE].count("\n")
            data[RUNNER_FILE] = f"# the jupyter_mlres job runner ({lines} lines, standard library only)"
    return replace(rendered, manifests=manifests)


def preview_text(
    fn: Any,
    settings: Settings,
    capture: Capture | None = None,
    args: CellArgs | None = None,
    params: Mapping[str, Any] | None = None,
) -> str:
    """What ``--dry-run`` prints: the line, the capture list, then the manifests as YAML."""
    header: list[str] = []
    if args is not None:
        header.append(f"# %%mlrun {to_magic_line(args, flags=False)}".rstrip())
    if capture is not None and capture.items:
        header.append("# captured from the notebook:")
        header.extend(f"#   {text}" for text in capture.describe())
        if capture.requirements:
            header.append(f"# the job's image needs: {', '.join(capture.requirements)}")
    elif capture is not None:
        header.append("# captured from the notebook: nothing")
    rendered = fn.to_run(settings, params=params)
    return "\n".join([*header, run_to_yaml(_without_runner(rendered))]).rstrip() + "\n"


def show(obj: Any) -> None:
    """Display ``obj`` in the current cell's output."""
    from IPython.display import display

    display(obj)  # type: ignore[no-untyped-call]


def detach_message(run: Run, why: str = "Detached") -> str:
    return (
        f"{why}: {run.name} keeps running on {run.backend}. "
        f"Follow it with `%mlrun attach {run.name}` or run.wait(); "
        f"cancel it with `%mlrun cancel {run.name}` or run.cancel()."
    )


def watch_run(
    run: Run,
    *,
    cancel_on_interrupt: bool = False,
    write: Callable[[str], Any] = print,
) -> Run:
    """Block until ``run`` ends; an interrupt detaches (or cancels, when asked) instead of failing."""
    try:
        finished = run._watch()
    except KeyboardInterrupt:
        if cancel_on_interrupt:
            phase = run.cancel()
            write(f"Interrupted: cancelled {run.name} ({phase}).")
        else:
            run.detach()
            write(detach_message(run, "Interrupted"))
        return run
    if not finished:
        write(detach_message(run))
    return run


def run_function(
    fn: Any,
    *,
    params: Mapping[str, Any] | None = None,
    backend: str | Backend | None = None,
    watch: bool = True,
    settings: Settings,
    attachments: Mapping[str, bytes] | None = None,
    mode: ViewMode | None = None,
    shell: Any = None,
    backends: dict[str, Backend] | None = None,
    cancel_on_interrupt: bool = False,
) -> Run:
    """Submit ``fn`` once, show its view, and (with ``watch``) follow it to the end."""
    if shell is None:
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:  # pragma: no cover - IPython is a dependency
            shell = None
    chosen = resolve_backend(backend, settings, backends)
    view_mode = mode or detect_view_mode(shell)
    run, widget = submit(fn, chosen, settings, params=params, attachments=attachments, mode=view_mode)
    if widget is not None:
        show(widget)
    if not watch:
        if view_mode != "widget":
            print(detach_message(run))
        return run
    return watch_run(run, cancel_on_interrupt=cancel_on_interrupt)
