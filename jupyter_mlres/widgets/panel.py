"""``ResourcePanel``: every resource setting of a job in one ipywidgets box, with the pod spec it
renders to shown live next to it.

One update path: every field change calls :meth:`ResourcePanel._refresh`, which turns the fields
into ``%%mlrun`` tokens, parses them with the magic's grammar (``core.cellargs``) into a
``CellArgs``, applies that to the function through its public API and renders it with the same
core function the backends use. The panel computes no rule of its own.
"""

from __future__ import annotations

import html
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

import ipywidgets as w

from jupyter_mlres.core.cellargs import CellArgs, apply_cell_args, parse_cell_args, to_magic_line
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.function import Function, new_function
from jupyter_mlres.core.runs import RenderedRun
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.widgets import fields as f
from jupyter_mlres.widgets.explain import Provenance, priority_choices, spot_explanation
from jupyter_mlres.widgets.preview import PreviewLine, changed_lines, emit_yaml, lines_to_html, lines_to_text
from jupyter_mlres.widgets.state import PANEL_FIELDS, overlay, split_function
from jupyter_mlres.widgets.style import STYLE

__all__ = ["ResourcePanel", "Submit", "open_panel", "route_error"]

Submit = Callable[[Function, CellArgs, Settings, Mapping[str, bytes]], tuple[Any, Any]]
"""(function, args, settings, attachments) -> (run handle, widget to show or None)."""

RUNNER_FILE = "mlres_runner.py"
SPOT_CHOICES = ("allow", "constrain", "prevent", "none")

# Where a SpecError path points: the first field whose key occurs in the path.
_ROUTES: tuple[tuple[str, str], ...] = (
    ("--cpu", "cpu"),
    ("--memory", "memory"),
    ("--gpu-type", "gpu_type"),
    ("--gpus", "gpus"),
    ("--replicas", "replicas"),
    ("--volume", "volumes"),
    ("--spot", "spot"),
    ("--priority", "priority"),
    ("--node-selector", "node_selector"),
    ("--image", "image"),
    ("--backend", "backend"),
    ("gpu_type", "gpu_type"),
    ("gpus", "gpus"),
    (".cpu", "cpu"),
    (".memory", "memory"),
    ("replicas", "replicas"),
    ("volume", "volumes"),
    ("preemption", "spot"),
    ("priority", "priority"),
    ("node_selector", "node_selector"),
    ("image", "image"),
)


def route_error(path: str) -> str:
    """The panel field a ``SpecError`` path belongs to ("" when none: banner only)."""
    for needle, field_name in _ROUTES:
        if needle in path:
            return field_name
    return ""


def _default_submit(
    fn: Function, args: CellArgs, settings: Settings, attachments: Mapping[str, bytes]
) -> tuple[Any, Any]:
    from jupyter_mlres.backends.registry import create_backend
    from jupyter_mlres.kernel.session import submit

    backend = create_backend(args.backend or settings.backend, settings)
    run, widget = submit(
        fn, backend, settings, params=args.param_dict, attachments=attachments, mode="widget"
    )
    return run, widget


class ResourcePanel(w.VBox):  # type: ignore[misc]
    """Resources of one function, a live preview of its pod spec, and Run / Copy / Reset.

    ``function``: the function to edit (its resources become the initial values); ``args``: a
    parsed ``%%mlrun`` line laid over it; ``code``: the code when there is no function yet.
    ``submit`` replaces how Run submits (default: the kernel's run API with the chosen backend).
    """

    def __init__(
        self,
        function: Function | None = None,
        *,
        args: CellArgs | None = None,
        code: str | None = None,
        settings: Settings | None = None,
        attachments: Mapping[str, bytes] | None = None,
        backends: Sequence[str] | None = None,
        submit: Submit | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings or (function.settings if function is not None else None) or Settings()
        if function is None:
            name = (args.name if args else None) or "job"
            kind = (args.kind if args else None) or "job"
            function = new_function(name, kind=kind, code=code, settings=self.settings)
        own, self._base = split_function(function)
        # Settings are passed on each render, not deep-copied with the base on every change.
        self._base.settings = None
        self.initial_args = overlay(own, replace(args, panel=False)) if args else own
        self._attachments = dict(attachments or {})
        self._submit = submit or _default_submit
        self._loading = False
        self._lines: list[PreviewLine] = []

        self.cell_args: CellArgs | None = None
        """The last valid state (what Run submits and Copy writes)."""
        self.function: Function | None = None
        self.rendered: RenderedRun | None = None
        self.errors: dict[str, str] = {}
        """field -> message for the current (possibly invalid) state; "" key: not a field."""
        self.preview_text = ""
        """The preview as plain YAML with ``# source`` comments."""
        self.changed: frozenset[int] = frozenset()
        """Line numbers (0-based) of ``preview_text`` that the last change altered."""
        self.last_run: Any = None

        self._build(backends)
        self.load(self.initial_args)

    # -- building -------------------------------------------------------------------------
    def _build(self, backends: Sequence[str] | None) -> None:
        on = self._refresh
        s = self.settings
        self.cpu = f.RequestLimitField("CPU", "--cpu", "cores", on)
        self.memory = f.RequestLimitField("Memory", "--memory", "bytes", on)
        self.gpus = f.TextField("GPUs", "--gpus", on, unit="count", placeholder="0")
        gpu_choices: list[f.Choice] = [
            ("default: nvidia.com/gpu", None),
            ("nvidia.com/gpu", "nvidia.com/gpu"),
        ]
        gpu_choices += [("amd.com/gpu", "amd.com/gpu")]
        for name, model in s.gpu_models.items():
            labels = ", ".join(f"{k}={v}" for k, v in model.node_selector.items())
            gpu_choices.append((f"{name} ({model.description or labels})", name))
        self.gpu_type = f.ChoiceField("GPU type", "--gpu-type", gpu_choices, on)
        self.replicas = f.ReplicasField(on)
        self.volumes = f.RowList("Volumes", "volume", lambda: f.VolumeRow(on, self.volumes.remove), on)
        default_mode = s.default_preemption_mode
        self.spot = f.ChoiceField(
            "Spot",
            "--spot",
            [(f"service default: {default_mode}", None), *[(m, m) for m in SPOT_CHOICES]],
            on,
        )
        self.priority = f.ChoiceField("Priority", "--priority", priority_choices(s), on)
        self.node_selector = f.RowList(
            "Node labels", "label", lambda: f.PairRow(on, self.node_selector.remove), on
        )
        self.node_selector_defaults = w.HTML("")
        self.node_selector_defaults.add_class("mlres-explain")
        self.image = f.TextField("Image", "--image", on)
        names = list(backends) if backends is not None else _backend_names()
        self.backend = f.ChoiceField(
            "Backend", "--backend", [(f"service default: {s.backend}", None), *[(n, n) for n in names]], on
        )

        self.title = w.HTML("")
        self.title.add_class("mlres-title")
        self.banner = w.HTML("", layout=w.Layout(display="none"))
        self.banner.add_class("mlres-banner")
        self.view = w.ToggleButtons(
            options=[("pod spec", "pod"), ("manifests", "manifests")],
            value="pod",
            style={"button_width": "7.5em"},
        )
        self.view.observe(on, names="value")
        self.preview = w.HTML("")
        self.preview.add_class("mlres-preview-box")
        self.notes = w.HTML("")
        self.notes.add_class("mlres-explain")
        self.run_button = w.Button(description="Run", icon="play", button_style="primary")
        self.run_button.on_click(lambda _b: self.run())
        self.copy_button = w.Button(description="Copy as %%mlrun", icon="copy")
        self.copy_button.on_click(lambda _b: self.copy_magic())
        self.reset_button = w.Button(description="Reset", icon="undo")
        self.reset_button.on_click(lambda _b: self.reset())
        self.magic_line = w.Text(value="", layout=w.Layout(width="98%", display="none"))
        self.magic_line.add_class("mlres-magic")
        self.job_view = w.VBox([])
        self.job_view.add_class("mlres-job-view")
        for button, css in (
            (self.run_button, "run"),
            (self.copy_button, "copy"),
            (self.reset_button, "reset"),
        ):
            button.add_class(f"mlres-{css}")

        form = w.VBox(
            [
                f.section("Compute", self.cpu.box, self.memory.box, self.gpus.box, self.gpu_type.box),
                f.section("Replicas", self.replicas.box),
                f.section("Volumes", self.volumes.box),
                f.section(
                    "Placement",
                    self.spot.box,
                    self.priority.box,
                    self.node_selector.box,
                    self.node_selector_defaults,
                ),
                f.section("Run on", self.image.box, self.backend.box),
            ]
        )
        form.add_class("mlres-form")
        preview = w.VBox(
            [w.HBox([w.HTML("<b>Preview</b>"), self.view]), self.banner, self.preview, self.notes]
        )
        preview.add_class("mlres-preview-col")
        body = w.HBox([form, preview], layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
        buttons = w.HBox([self.run_button, self.copy_button, self.reset_button])
        self.children = [w.HTML(STYLE), self.title, body, buttons, self.magic_line, self.job_view]
        self.add_class("mlres-panel")

    # -- state in and out ---------------------------------------------------------------
    def load(self, args: CellArgs) -> None:
        """Show ``args`` in the fields (one refresh at the end)."""
        self._loading = True
        try:
            self._passthrough = args
            if args.name and args.name != self._base.name:
                # The name is the line's, not a field: it names the function the panel renders.
                self._base.metadata.name = new_function(args.name).name
            self.cpu.set(args.cpu)
            self.memory.set(args.memory)
            self.gpus.set(None if args.gpus is None else str(args.gpus))
            self.gpu_type.set(args.gpu_type)
            self.replicas.set(args.replicas)
            self.volumes.clear()
            for text in args.volumes:
                self.volumes.add(notify=False).set(text)
            self.spot.set(args.spot)
            self.priority.set(args.priority)
            self.node_selector.clear()
            for key, value in args.node_selector:
                self.node_selector.add(notify=False).set(key, value)
            self.image.set(args.image)
            self.backend.set(args.backend)
        finally:
            self._loading = False
        self._refresh()

    def _collect(self) -> tuple[CellArgs, dict[str, str]]:
        """The fields as ``CellArgs`` (parsed by the magic's grammar) and per-field errors."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = dict.fromkeys(PANEL_FIELDS)
        values.update(volumes=(), node_selector=())

        def parse(field_name: str, tokens: list[str], row: Any = None) -> CellArgs | None:
            if not tokens:
                return None
            parsed, message = _parse_tokens(tuple(tokens))
            if message:
                errors.setdefault(field_name, message)
                if row is not None:
                    f.set_error(row.error, message)
            return parsed

        for field_name, field in self._single_fields():
            parsed = parse(field_name, field.tokens())
            if parsed is not None:
                values[field_name] = getattr(parsed, field_name)
        volumes: list[str] = []
        for row in self.volumes.rows:
            f.set_error(row.error, None)
            parsed = parse("volumes", ["--volume", row.text] if row.text else [], row)
            if parsed is not None:
                volumes.extend(parsed.volumes)
        values["volumes"] = tuple(volumes)
        pairs: list[tuple[str, str]] = []
        for row in self.node_selector.rows:
            f.set_error(row.error, None)
            parsed = parse("node_selector", ["--node-selector", row.text] if row.text else [], row)
            if parsed is not None:
                pairs.extend(parsed.node_selector)
        values["node_selector"] = tuple(dict(pairs).items())
        return replace(self._passthrough, panel=False, **values), errors

    def _render(self, args: CellArgs) -> tuple[Function, RenderedRun]:
        fn = self._base.copy()
        fn.settings = self.settings
        apply_cell_args(fn, args)
        return fn, fn.to_run(self.settings)

    # -- the one update path ----------------------------------------------------------------
    def _refresh(self, _change: Any = None) -> None:
        if self._loading:
            return
        args, errors = self._collect()
        fn: Function | None = None
        rendered: RenderedRun | None = None
        if not errors:
            try:
                fn, rendered = self._render(args)
            except SpecError as e:
                errors[route_error(e.path)] = str(e)
        self.errors = errors
        self._show_field_state(args)
        if fn is None or rendered is None:
            first = next(iter(errors.values()))
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            self.banner.value = (
                f"<b>invalid:</b> {html.escape(first)}{more} — the preview shows the last valid spec"
            )
            self.banner.layout.display = ""
            self.run_button.disabled = True
            return
        self.banner.value = ""
        self.banner.layout.display = "none"
        self.run_button.disabled = False
        self.cell_args, self.function, self.rendered = args, fn, rendered
        self._show_preview(args, fn, rendered)
        if self.magic_line.layout.display != "none":
            self.magic_line.value = self.magic()

    def _single_fields(self) -> tuple[tuple[str, Any], ...]:
        """The one-value fields, keyed by their ``CellArgs`` name (rows are handled apart)."""
        return (
            ("cpu", self.cpu),
            ("memory", self.memory),
            ("gpus", self.gpus),
            ("gpu_type", self.gpu_type),
            ("replicas", self.replicas),
            ("spot", self.spot),
            ("priority", self.priority),
            ("image", self.image),
            ("backend", self.backend),
        )

    def _show_field_state(self, args: CellArgs) -> None:
        s = self.settings
        for field_name, field in self._single_fields():
            f.set_error(field.error, self.errors.get(field_name))
        for field_name, rows in (("volumes", self.volumes), ("node_selector", self.node_selector)):
            if field_name in self.errors and not any(r.error.value for r in rows.rows):
                f.set_error(rows.rows[-1].error if rows.rows else f.error_label(), self.errors[field_name])
        defaults = s.default_resources
        self.cpu.set_default(defaults.requests.get("cpu"), defaults.limits.get("cpu"))
        self.memory.set_default(defaults.requests.get("memory"), defaults.limits.get("memory"))
        self.image.set_default(s.default_image)
        self.replicas.show_mode()
        kind = args.kind or "job"
        self.replicas.allow_range(
            kind == "dask",
            f"A replica range needs a kind that can autoscale ('dask': adaptive workers); "
            f"kind {kind!r} runs exactly N replicas.",
        )
        mode = args.spot or s.default_preemption_mode
        f.put(self.spot.explain, "value", html.escape(spot_explanation(mode, s)))
        inherited = {k: v for k, v in s.default_node_selector.items() if k not in args.node_selector_dict}
        f.put(
            self.node_selector_defaults,
            "value",
            "service default labels: " + html.escape(", ".join(f"{k}={v}" for k, v in inherited.items()))
            if inherited
            else "",
        )
        name = args.name or self._base.name
        f.put(self.title, "value", f"<b>Resources of</b> <code>{html.escape(name)}</code>")

    def _show_preview(self, args: CellArgs, fn: Function, rendered: RenderedRun) -> None:
        own = fn.spec.resources
        provenance = Provenance(
            args=args,
            settings=self.settings,
            own_requests=frozenset(own["requests"]),
            own_limits=frozenset(own["limits"]),
            function_volumes=frozenset(m.name for m in self._base.spec.mounts),
        )
        # The pod the panel's resources shape: the Job's, or for kind="dask" the workers'.
        index, pod_path = next(
            (
                (i, ("spec", "worker", "spec"))
                for i, m in enumerate(rendered.manifests)
                if m["kind"] == "DaskCluster"
            ),
            (len(rendered.manifests) - 1, ("spec", "template", "spec")),
        )
        if self.view.value == "pod":
            pod: Any = rendered.manifests[index]
            for key in pod_path:
                pod = pod[key]
            documents: list[Any] = [pod]
        else:
            documents = [_elide_runner(m) for m in rendered.manifests]
            provenance = replace(provenance, prefix=(index, *pod_path))
        lines = emit_yaml(documents, provenance)
        self.changed = changed_lines(self._lines, lines) if self._lines else frozenset()
        self._lines = lines
        self.preview_text = lines_to_text(lines)
        self.preview.value = lines_to_html(lines, self.changed)
        self.notes.value = "<br>".join(html.escape(n) for n in rendered.notes)

    # -- buttons --------------------------------------------------------------------------
    def magic(self) -> str:
        """The ``%%mlrun`` line that reproduces the panel (its last valid state)."""
        args = self.cell_args or self.initial_args
        return ("%%mlrun " + to_magic_line(replace(args, panel=False))).rstrip()

    def copy_magic(self) -> str:
        """Show the line under the buttons, selected for copying."""
        self.magic_line.value = self.magic()
        self.magic_line.layout.display = ""
        return str(self.magic_line.value)

    def reset(self) -> None:
        """Back to the values the panel was opened with."""
        self.load(self.initial_args)

    def run(self) -> Any:
        """Submit the shown spec with the chosen backend; the job view appears under the panel."""
        if self.run_button.disabled or self.function is None or self.cell_args is None:
            return None
        try:
            run, widget = self._submit(self.function.copy(), self.cell_args, self.settings, self._attachments)
        except SpecError as e:
            self.banner.value = f"<b>not submitted:</b> {html.escape(str(e))}"
            self.banner.layout.display = ""
            return None
        self.last_run = run
        shown = widget if widget is not None else w.HTML(html.escape(repr(run)))
        self.job_view.children = [shown]
        return run


@lru_cache(maxsize=512)
def _parse_tokens(tokens: tuple[str, ...]) -> tuple[CellArgs | None, str]:
    # The grammar is pure and the fields change one at a time: most tokens were seen before.
    try:
        return parse_cell_args(shlex.join(tokens)), ""
    except SpecError as e:
        return None, str(e)


def _backend_names() -> list[str]:
    from jupyter_mlres.backends.registry import available_backends

    return available_backends()


def _elide_runner(manifest: dict[str, Any]) -> dict[str, Any]:
    # The runner is hundreds of lines that never change: show the user's code, not ours.
    data = manifest.get("data")
    if manifest.get("kind") != "ConfigMap" or not isinstance(data, dict) or RUNNER_FILE not in data:
        return manifest
    lines = data[RUNNER_FILE].count("\n")
    shown = dict(data, **{RUNNER_FILE: f"<jupyter_mlres runner, {lines} lines, not shown>"})
    return dict(manifest, data=shown)


def open_panel(*, args: CellArgs, cell: str | None, magics: Any) -> ResourcePanel:
    """``%%mlrun --panel`` (``cell`` given) and ``%mlrun panel`` (``cell`` None: the last
    ``%%mlrun`` cell, if any): a panel bound to the cell's code, running through the magics'
    backends so that ``%mlrun jobs/attach`` know its runs."""
    from jupyter_mlres.kernel.runcell import build_cell_function, resolve_backend
    from jupyter_mlres.kernel.session import submit

    if cell is None:
        last_args, cell = magics.last_cell or (CellArgs(), "")
        args = overlay(replace(last_args, panel=False), args)
    settings: Settings = magics.settings
    # The cell's function without the line's resources: those are the panel's to edit.
    identity = CellArgs(name=args.name, handler=args.handler, kind=args.kind)
    hidden = getattr(magics.shell, "user_ns_hidden", {})
    fn, capture = build_cell_function(identity, cell, settings, magics._user_ns(), hidden)

    def submit_here(
        fn: Function, chosen: CellArgs, settings: Settings, attachments: Mapping[str, bytes]
    ) -> tuple[Any, Any]:
        backend = resolve_backend(chosen.backend, settings, magics._backends)
        run, widget = submit(
            fn, backend, settings, params=chosen.param_dict, attachments=attachments, mode=magics._mode()
        )
        magics._remember(run)
        return run, widget

    return ResourcePanel(
        fn, args=args, settings=settings, attachments=capture.attachments(), submit=submit_here
    )
