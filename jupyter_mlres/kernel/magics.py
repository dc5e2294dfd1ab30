"""``%%mlrun`` (run a cell as a job) and ``%mlrun`` (jobs, logs, attach, cancel, rm, preview, settings).

The methods are thin: parsing is :mod:`jupyter_mlres.core.cellargs`, capture is
:mod:`~jupyter_mlres.kernel.capture`, submitting and watching is :mod:`~jupyter_mlres.kernel.runcell`.
Every :class:`SpecError` becomes a one-line :class:`UsageError`; nothing is submitted then.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Enum

from jupyter_mlres.backends.base import Backend
from jupyter_mlres.backends.registry import check_backend_name
from jupyter_mlres.core.cellargs import CellArgs, parse_cell_args, usage
from jupyter_mlres.core.errors import BackendError, SpecError
from jupyter_mlres.core.runs import RunId
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.kernel.cleanup import delete_runs, finished_runs, parse_days
from jupyter_mlres.kernel.runcell import (
    build_cell_function,
    detach_message,
    get_settings,
    preview_text,
    resolve_backend,
    run_function,
    show,
    watch_run,
)
from jupyter_mlres.kernel.session import Run, ViewMode, attach, detect_view_mode
from jupyter_mlres.kernel.view import format_log_line

__all__ = ["MlresMagics", "load_ipython_extension"]

LINE_USAGE = """\
%mlrun jobs [--limit N] [--backend B]         list runs, newest first
%mlrun logs RUN [--follow] [--tail N]         print a run's log (--follow: until it ends)
%mlrun attach RUN [--detach]                  show a run's view again and return its handle
%mlrun cancel RUN                             stop a run
%mlrun rm RUN [RUN ...]                       delete finished runs (their files, logs, Jobs)
%mlrun rm --finished [--older-than DAYS]      delete every finished run [finished > DAYS days ago]
%mlrun preview [NAME] [options]               the manifests for these options (no cell needed)
%mlrun panel [NAME] [options]                 the resource panel (for the last %%mlrun cell, if any)
%mlrun settings                               the service settings in effect
"""

PanelOpener = Callable[..., Any]


@contextmanager
def _usage_errors() -> Iterator[None]:
    try:
        yield
    except SpecError as e:
        raise UsageError(str(e)) from None
    except BackendError as e:
        # RunNotFound, SubmitError, BackendUnavailable: one clean line too, with the backend's words.
        raise UsageError(f"{type(e).__name__}: {e}") from None


@magics_class
class MlresMagics(Magics):
    view = Enum(
        ["auto", "widget", "text", "stream"],
        default_value="auto",
        help="How runs are shown: a live widget; plain deterministic text (log tail at the end); "
        "streamed text (log lines as they come); auto: widget in an interactive Jupyter front end, "
        "stream in a terminal, text when a program executes the notebook (nbconvert, nbval).",
    ).tag(config=True)
    cancel_on_interrupt = Bool(
        False, help="Cancel the job when the kernel is interrupted while watching (default: detach)."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._settings: Settings | None = None
        self._backends: dict[str, Backend] = {}
        self._runs: dict[str, Run] = {}
        self.last_cell: tuple[CellArgs, str] | None = None

    # -- helpers -------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings(getattr(self.shell, "config", None))
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value
        self._backends.clear()

    def _user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def _mode(self) -> ViewMode:
        return detect_view_mode(self.shell, self.view)

    def _backend(self, name: str | None) -> Backend:
        return resolve_backend(name, self.settings, self._backends)

    def _find(self, run_id: str, backend: str | None) -> Backend:
        if backend is None and run_id in self._runs:
            return self._runs[run_id]._backend
        return self._backend(backend)

    def _remember(self, run: Run) -> Run:
        self._runs[run.name] = run
        return run

    # -- the magic -----------------------------------------------------------------------------
    @line_cell_magic
    def mlrun(self, line: str, cell: str | None = None) -> Any:
        with _usage_errors():
            if cell is None:
                return self._line(line)
            return self._cell(line, cell)

    def _cell(self, line: str, cell: str) -> Any:
        args = parse_cell_args(line)
        if args.panel:
            return self._open_panel(args, cell)
        hidden = getattr(self.shell, "user_ns_hidden", {})
        fn, capture = build_cell_function(args, cell, self.settings, self._user_ns(), hidden)
        self.last_cell = (args, cell)
        if args.dry_run:
            if args.backend:  # what would run must be able to run: a wrong name is said now
                check_backend_name(args.backend)
            print(preview_text(fn, self.settings, capture, args, params=args.param_dict), end="")
            return None
        run = run_function(
            fn,
            params=args.param_dict,
            backend=args.backend,
            watch=not args.detach,
            settings=self.settings,
            attachments=capture.attachments(),
            mode=self._mode(),
            shell=self.shell,
            backends=self._backends,
            cancel_on_interrupt=self.cancel_on_interrupt,
        )
        return self._remember(run)

    def _open_panel(self, args: CellArgs, cell: str | None) -> Any:
        try:
            panel = importlib.import_module("jupyter_mlres.widgets.panel")
        except ImportError:
            panel = None
        opener: PanelOpener | None = getattr(panel, "open_panel", None)
        if opener is None:
            print("panel not available yet: the resource panel ships in a later version")
            return None
        return opener(args=args, cell=cell, magics=self)

    # -- %mlrun subcommands --------------------------------------------------------------------
    def _line(self, line: str) -> Any:
        try:
            tokens = shlex.split(line)
        except ValueError as e:
            raise SpecError("%mlrun", line, "a line that shell-quotes correctly", reason=str(e)) from None
        if not tokens or tokens[0] in ("-h", "--help", "help"):
            print(LINE_USAGE + "\n" + usage())
            return None
        command, rest = tokens[0], tokens[1:]
        handler = {
            "jobs": self._jobs,
            "logs": self._logs,
            "attach": self._attach,
            "cancel": self._cancel,
            "rm": self._rm,
            "preview": self._preview,
            "panel": self._panel_line,
            "settings": self._show_settings,
        }.get(command)
        if handler is None:
            raise SpecError(
                "%mlrun", command, ["jobs", "logs", "attach", "cancel", "rm", "preview", "panel", "settings"]
            )
        return handler(rest)

    @staticmethod
    def _options(
        command: str, tokens: list[str], flags: set[str], values: set[str], positional: int | None
    ) -> tuple[list[str], dict[str, Any]]:
        """Split ``tokens`` into plain words and options; ``positional``: how many plain words
        (None: any number, the caller checks)."""
        found: dict[str, Any] = {}
        plain: list[str] = []
        it = iter(tokens)
        for token in it:
            key, eq, inline = token.partition("=")
            if key in flags and not eq:
                found[key] = True
            elif key in values:
                value = inline if eq else next(it, None)
                if value is None:
                    raise SpecError(f"{command} {key}", None, "a value", reason="missing value")
                found[key] = value
            elif token.startswith("--"):
                raise SpecError(f"%mlrun {command}", token, sorted(flags | values), reason="unknown option")
            else:
                plain.append(token)
        if positional is not None and len(plain) != positional:
            what = "RUN (a run name from `%mlrun jobs`)" if positional else "no arguments"
            raise SpecError(f"%mlrun {command}", " ".join(plain) or None, what)
        return plain, found

    def _jobs(self, tokens: list[str]) -> None:
        _, opts = self._options("jobs", tokens, set(), {"--backend", "--limit"}, 0)
        limit = opts.get("--limit")
        if limit is not None and (not limit.isdigit() or int(limit) < 1):
            raise SpecError("jobs --limit", limit, "a whole number >= 1")
        runs = self._backend(opts.get("--backend")).list_runs()[: int(limit) if limit else None]
        if not runs:
            print("no runs")
            return
        width = max(len(r.run_id) for r in runs)
        print(f"{'RUN':<{width}}  {'FUNCTION':<16} {'BACKEND':<10} {'STATE':<10} CREATED")
        for r in runs:
            created = r.created.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            print(f"{r.run_id:<{width}}  {r.function:<16} {r.backend:<10} {r.phase!s:<10} {created}")

    def _logs(self, tokens: list[str]) -> None:
        (run_id,), opts = self._options("logs", tokens, {"--follow"}, {"--tail", "--backend"}, 1)
        tail_text = opts.get("--tail")
        if tail_text is not None and (not tail_text.isdigit() or int(tail_text) < 1):
            raise SpecError("logs --tail", tail_text, "a whole number >= 1")
        tail = int(tail_text) if tail_text else None
        backend = self._find(run_id, opts.get("--backend"))
        lines = backend.logs(RunId(run_id), follow=bool(opts.get("--follow")), tail=tail)
        try:
            self._print_batched(lines)
        except KeyboardInterrupt:
            print(f"(stopped following {run_id}; the run keeps going)")

    @staticmethod
    def _print_batched(lines: Any) -> None:
        # One write per batch: a following job that prints fast must not flood the notebook.
        batch: list[str] = []
        last = time.monotonic()
        multi = False
        for line in lines:
            multi = multi or line.replica != 0
            batch.append(format_log_line(line, multi))
            if len(batch) >= 1000 or time.monotonic() - last > 0.25:
                print("\n".join(batch), flush=True)
                batch, last = [], time.monotonic()
        if batch:
            print("\n".join(batch), flush=True)

    def _attach(self, tokens: list[str]) -> Run:
        (run_id,), opts = self._options("attach", tokens, {"--detach"}, {"--backend"}, 1)
        backend = self._find(run_id, opts.get("--backend"))
        run, widget = attach(backend, run_id, self.settings, mode=self._mode())
        if widget is not None:
            show(widget)
        if opts.get("--detach"):
            if widget is None:
                print(detach_message(run))
            return self._remember(run)
        return self._remember(watch_run(run, cancel_on_interrupt=self.cancel_on_interrupt))

    def _cancel(self, tokens: list[str]) -> None:
        (run_id,), opts = self._options("cancel", tokens, set(), {"--backend"}, 1)
        status = self._find(run_id, opts.get("--backend")).cancel(RunId(run_id))
        print(f"{run_id}: {status.phase}")

    def _rm(self, tokens: list[str]) -> None:
        run_ids, opts = self._options("rm", tokens, {"--finished"}, {"--older-than", "--backend"}, None)
        older = opts.get("--older-than")
        days = parse_days(older) if older is not None else None
        targets: list[tuple[str, Backend]]
        if opts.get("--finished"):
            if run_ids:
                raise SpecError("%mlrun rm", " ".join(run_ids), "either RUN names or --finished, not both")
            backend = self._backend(opts.get("--backend"))
            chosen = finished_runs(backend.list_runs(), now=datetime.now(timezone.utc), older_than_days=days)
            if not chosen:
                age = f" finished more than {older} days ago" if older is not None else ""
                print(f"no finished runs{age} on backend {backend.name!r}")
                return
            targets = [(r.run_id, backend) for r in chosen]
        else:
            if older is not None:
                raise SpecError("rm --older-than", older, "only together with --finished")
            if not run_ids:
                raise SpecError("%mlrun rm", None, "RUN names (from `%mlrun jobs`) or --finished")
            explicit = opts.get("--backend")
            default = None if explicit is None else self._backend(explicit)  # a bad name fails first
            targets = [(r, default or self._find(r, None)) for r in run_ids]
        for run_id in delete_runs(targets):
            self._runs.pop(run_id, None)

    def _preview(self, tokens: list[str]) -> None:
        if tokens:
            args, body = parse_cell_args(shlex.join(tokens)), ""
        elif self.last_cell is not None:
            args, body = self.last_cell
        else:
            args, body = CellArgs(), ""
        fn, capture = build_cell_function(
            args, body, self.settings, self._user_ns(), getattr(self.shell, "user_ns_hidden", {})
        )
        print(preview_text(fn, self.settings, capture, args, params=args.param_dict), end="")

    def _panel_line(self, tokens: list[str]) -> Any:
        # Without a cell the panel edits the last %%mlrun cell (the widgets layer decides how).
        return self._open_panel(parse_cell_args(shlex.join(tokens)), None)

    def _show_settings(self, tokens: list[str]) -> None:
        self._options("settings", tokens, set(), set(), 0)
        for f in dataclasses.fields(self.settings):
            print(f"{f.name} = {getattr(self.settings, f.name)!r}")


MlresMagics.mlrun.__doc__ = usage() + "\n\n" + LINE_USAGE


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%mlrun`` / ``%mlrun`` (``%load_ext jupyter_mlres``)."""
    magics = MlresMagics(ipython)
    ipython.register_magics(magics)
    with contextlib.suppress(Exception):  # a head start only: the first run works without it
        if magics.settings.backend == "local":
            from jupyter_mlres.backends.local import LocalBackend

            LocalBackend(magics.settings).prewarm()


def unload_ipython_extension(ipython: Any) -> None:  # pragma: no cover - IPython hook
    pass
