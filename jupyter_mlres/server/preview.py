"""Parse, apply form values to, validate and preview a ``%%mlrun`` line — all through core.

The sidebar never interprets the magic's grammar itself: it sends the cell's first line and the
form's values here and writes back the line this returns. Form values are the texts that follow
the option's flag on the line (``cpu`` = ``"500m:1"``), so the grammar stays in
:mod:`jupyter_mlres.core.cellargs`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from jupyter_mlres.core.cellargs import OPTIONS, CellArgs, apply_cell_args, parse_cell_args, to_magic_line
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.function import new_function
from jupyter_mlres.core.runs import RenderedRun
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.core.yamlout import run_to_yaml

__all__ = ["FORM_FIELDS", "MAGIC", "apply_form_values", "field_for_path", "form_values", "preview"]

MAGIC = "%%mlrun"
FORM_FIELDS = ("cpu", "memory", "gpus", "gpu_type", "replicas", "spot", "priority", "image", "backend")
"""The single-valued options the sidebar's form edits; every other option on the line is kept."""

_FLAG_OF = {o.field: o.flag for o in OPTIONS}
_FIELD_OF = {o.flag: o.field for o in OPTIONS}
RUNNER_FILE = "mlres_runner.py"


def field_for_path(path: str) -> str:
    """The form field a ``SpecError`` path belongs to ("" when none)."""
    field = _FIELD_OF.get(path, "")
    return field if field in FORM_FIELDS else ""


def _strip_magic(line: str) -> str:
    text = line.strip()
    if text.startswith(MAGIC):
        text = text[len(MAGIC) :]
    elif text:
        raise SpecError("line", line, f"a line starting with {MAGIC}")
    return text.strip()


def form_values(args: CellArgs) -> dict[str, str]:
    """Each form field as the text that follows its flag on the line ("" when not given)."""
    values: dict[str, str] = {}
    for name in FORM_FIELDS:
        value = getattr(args, name)
        if value is None:
            values[name] = ""
            continue
        written = shlex.split(to_magic_line(CellArgs(**{name: value})))
        values[name] = written[1] if len(written) == 2 else written[0].partition("=")[2]
    return values


def apply_form_values(args: CellArgs, values: Mapping[str, Any]) -> CellArgs:
    """``args`` with the form's fields replaced: each text is parsed as ``--flag TEXT``."""
    changes: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in FORM_FIELDS:
            raise SpecError(f"values.{name}", raw, FORM_FIELDS, reason="not a form field")
        text = "" if raw is None else str(raw).strip()
        if not text:
            changes[name] = None
            continue
        flag = _FLAG_OF[name]
        changes[name] = getattr(parse_cell_args(shlex.join([f"{flag}={text}"])), name)
    return replace(args, **changes)


def _elide_runner(run: RenderedRun) -> RenderedRun:
    # The runner is hundreds of lines that never change: show the user's code, not ours.
    manifests = []
    for manifest in run.manifests:
        data = manifest.get("data")
        if manifest.get("kind") == "ConfigMap" and isinstance(data, dict) and RUNNER_FILE in data:
            lines = data[RUNNER_FILE].count("\n")
            manifest = dict(
                manifest, data=dict(data, **{RUNNER_FILE: f"<jupyter_mlres runner, {lines} lines>"})
            )
        manifests.append(manifest)
    return replace(run, manifests=manifests)


def preview(settings: Settings, line: str, values: Mapping[str, Any], code: str) -> dict[str, Any]:
    """The canonical line, the form's values and the YAML of what would be submitted.

    Raises :class:`SpecError` (path = the option, e.g. ``--memory``) for anything invalid.
    """
    args = apply_form_values(parse_cell_args(_strip_magic(line)), values)
    fn = new_function(
        args.name or args.handler or "job", args.kind or "job", code=code or "", settings=settings
    )
    apply_cell_args(fn, args)
    rendered = fn.to_run(settings, params=args.param_dict)
    canonical = f"{MAGIC} {to_magic_line(args)}".rstrip()
    return {
        "line": canonical,
        "values": form_values(args),
        "yaml": run_to_yaml(_elide_runner(rendered)),
        "notes": list(rendered.notes),
    }
