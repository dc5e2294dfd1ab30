"""Small builders for the panel's fields. Each field owns its widgets, turns them into ``%%mlrun``
tokens (the panel's state *is* a magic line) and shows its own error and service-default badge.

Fields hold no rules: the grammar (``core.cellargs``) and the Function API decide what is valid;
a field only displays what they said.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as w

__all__ = [
    "ChoiceField",
    "PairRow",
    "ReplicasField",
    "RequestLimitField",
    "RowList",
    "TextField",
    "VolumeRow",
    "error_label",
    "section",
]

OnChange = Callable[[Any], None]
Choice = tuple[str, str | None]
"""(label, value); value None means "not given: inherit the default"."""
INHERIT = ""
"""What a dropdown holds for None: ipywidgets reads a None value as "nothing selected"."""

LABEL_WIDTH = "7.5em"
TEXT_WIDTH = "9em"


def _label(text: str, width: str = LABEL_WIDTH) -> w.HTML:
    return w.HTML(html.escape(text), layout=w.Layout(width=width, min_width=width))


def error_label() -> w.HTML:
    """An inline message, hidden while empty."""
    label = w.HTML("", layout=w.Layout(display="none"))
    label.add_class("mlres-error")
    return label


def put(obj: Any, name: str, value: Any) -> None:
    """Set a trait only when it changes: every set costs a validation, even of an equal value,
    and the panel re-states most of its display on each change."""
    if getattr(obj, name) != value:
        setattr(obj, name, value)


def set_error(label: w.HTML, message: str | None) -> None:
    put(label, "value", html.escape(message) if message else "")
    put(label.layout, "display", "" if message else "none")


def _text(placeholder: str = "", width: str = TEXT_WIDTH) -> w.Text:
    return w.Text(value="", placeholder=placeholder, continuous_update=False, layout=w.Layout(width=width))


def _badge() -> w.HTML:
    badge = w.HTML("")
    badge.add_class("mlres-default")
    return badge


def section(title: str, *rows: w.Widget) -> w.VBox:
    """A titled group of rows."""
    head = w.HTML(f"<b>{html.escape(title)}</b>")
    head.add_class("mlres-section-title")
    box = w.VBox([head, *rows])
    box.add_class("mlres-section")
    return box


def _observe(widgets: Sequence[w.Widget], on_change: OnChange) -> None:
    for widget in widgets:
        widget.observe(on_change, names="value")


class TextField:
    """Label, one text input, optional unit, service-default badge, inline error."""

    def __init__(
        self, label: str, flag: str, on_change: OnChange, *, unit: str = "", placeholder: str = ""
    ) -> None:
        self.flag = flag
        self.input = _text(placeholder, width="16em")
        self.input.add_class(f"mlres-{flag.strip('-')}")
        self.badge = _badge()
        self.error = error_label()
        self.row = w.HBox([_label(label), self.input, w.HTML(html.escape(unit)), self.badge])
        self.box = w.VBox([self.row, self.error])
        _observe([self.input], on_change)

    @property
    def text(self) -> str:
        return str(self.input.value).strip()

    def set(self, value: str | None) -> None:
        self.input.value = value or ""

    def tokens(self) -> list[str]:
        return [self.flag, self.text] if self.text else []

    def set_default(self, shown: str | None) -> None:
        """Show what applies while the field is empty (and say it is the service's default)."""
        put(self.input, "placeholder", shown or "")
        put(self.badge, "value", "service default" if shown and not self.text else "")


class RequestLimitField:
    """``--cpu REQ:LIMIT`` / ``--memory REQ:LIMIT`` as two quantity inputs with the unit visible."""

    def __init__(self, label: str, flag: str, unit: str, on_change: OnChange) -> None:
        self.flag = flag
        self.request = _text()
        self.limit = _text()
        # Classes name the inputs for styling and for browser tests.
        self.request.add_class(f"mlres-{flag.strip('-')}-request")
        self.limit.add_class(f"mlres-{flag.strip('-')}-limit")
        self.badge = _badge()
        self.error = error_label()
        self.row = w.HBox(
            [
                _label(label),
                w.HTML("request", layout=w.Layout(width="4.2em")),
                self.request,
                w.HTML("limit", layout=w.Layout(width="2.6em", margin="0 0 0 0.6em")),
                self.limit,
                w.HTML(html.escape(unit), layout=w.Layout(margin="0 0 0 0.4em")),
                self.badge,
            ]
        )
        self.box = w.VBox([self.row, self.error])
        _observe([self.request, self.limit], on_change)

    def set(self, value: tuple[str | None, str | None] | None) -> None:
        request, limit = value or (None, None)
        self.request.value = request or ""
        self.limit.value = limit or ""

    def tokens(self) -> list[str]:
        request, limit = str(self.request.value).strip(), str(self.limit.value).strip()
        if not (request or limit):
            return []
        return [self.flag, request + (f":{limit}" if limit else "")]

    def set_default(self, request: str | None, limit: str | None) -> None:
        put(self.request, "placeholder", request or "")
        put(self.limit, "placeholder", limit or "")
        inherited = [
            name
            for name, shown, widget in (("request", request, self.request), ("limit", limit, self.limit))
            if shown and not str(widget.value).strip()
        ]
        put(self.badge, "value", f"service default {' & '.join(inherited)}" if inherited else "")


class ChoiceField:
    """A dropdown (value None = inherit) with a one-line explanation under it."""

    def __init__(self, label: str, flag: str, choices: Sequence[Choice], on_change: OnChange) -> None:
        self.flag = flag
        options = [(label, INHERIT if value is None else value) for label, value in choices]
        self.dropdown = w.Dropdown(options=options, value=options[0][1], layout=w.Layout(width="26em"))
        self.dropdown.add_class(f"mlres-{flag.strip('-')}")
        self.explain = w.HTML("")
        self.explain.add_class("mlres-explain")
        self.error = error_label()
        self.row = w.HBox([_label(label), self.dropdown])
        self.box = w.VBox([self.row, self.explain, self.error])
        _observe([self.dropdown], on_change)

    @property
    def value(self) -> str | None:
        value = self.dropdown.value
        return None if value in (None, INHERIT) else str(value)

    def set(self, value: str | None) -> None:
        options = list(self.dropdown.options)
        if value and all(v != value for _, v in options):
            # A value from a magic line that the settings do not list: show it, the core judges it.
            self.dropdown.options = [*options, (value, value)]
        self.dropdown.value = value or INHERIT

    def tokens(self) -> list[str]:
        return [self.flag, self.value] if self.value is not None else []


class ReplicasField:
    """``--replicas N`` or ``--replicas MIN:MAX``; the range only where the kind can autoscale."""

    def __init__(self, on_change: OnChange) -> None:
        self.flag = "--replicas"
        self.mode = w.ToggleButtons(
            options=[("fixed", "fixed"), ("range", "range")],
            value="fixed",
            style={"button_width": "4.5em"},
        )
        self.count = _text("1", width="5em")
        self.minimum = _text("min", width="5em")
        self.maximum = _text("max", width="5em")
        self.range_box = w.HBox([self.minimum, w.HTML("&nbsp;to&nbsp;"), self.maximum])
        self.reason = w.HTML("")
        self.reason.add_class("mlres-explain")
        self.error = error_label()
        self.row = w.HBox([_label("Replicas"), self.mode, self.count, self.range_box])
        self.box = w.VBox([self.row, self.reason, self.error])
        _observe([self.mode, self.count, self.minimum, self.maximum], on_change)
        self.show_mode()

    def show_mode(self) -> None:
        ranged = self.mode.value == "range"
        put(self.count.layout, "display", "none" if ranged else "")
        put(self.range_box.layout, "display", "" if ranged else "none")

    def set(self, value: int | tuple[int, int] | None) -> None:
        if isinstance(value, tuple):
            self.minimum.value, self.maximum.value = str(value[0]), str(value[1])
            self.count.value = ""
            self.mode.value = "range"
        else:
            self.count.value = "" if value is None else str(value)
            self.minimum.value = self.maximum.value = ""
            self.mode.value = "fixed"
        self.show_mode()

    def tokens(self) -> list[str]:
        if self.mode.value == "range":
            low, high = str(self.minimum.value).strip(), str(self.maximum.value).strip()
            return [self.flag, f"{low}:{high}"] if (low or high) else []
        count = str(self.count.value).strip()
        return [self.flag, count] if count else []

    def allow_range(self, allowed: bool, reason: str) -> None:
        put(self.mode, "disabled", not allowed and self.mode.value != "range")
        put(self.reason, "value", "" if allowed else html.escape(reason))


# -- rows of editable lists -------------------------------------------------------------------

VOLUME_KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    # kind -> (field placeholder, field name) in the order of the --volume grammar
    "pvc": (("claim name", "source"), ("/mount/path", "path")),
    "configmap": (("configmap name", "source"), ("/mount/path", "path")),
    "secret": (("secret name", "source"), ("/mount/path", "path")),
    "v3io": (("container/sub/path", "source"), ("/mount/path", "path")),
    "shm": (("size, e.g. 1Gi", "size"),),
}
VOLUME_HINTS = {
    "pvc": "a PersistentVolumeClaim",
    "configmap": "files from a ConfigMap",
    "secret": "files from a Secret (by name; values never shown)",
    "v3io": "Iguazio V3IO data (flexVolume v3io/fuse; access key from the cluster)",
    "shm": "larger /dev/shm (memory-backed), e.g. for PyTorch data loaders",
}


class VolumeRow:
    """One ``--volume`` entry with the fields of its kind."""

    def __init__(
        self, on_change: OnChange, on_remove: Callable[[VolumeRow], None], kind: str = "pvc"
    ) -> None:
        self.on_change = on_change
        self.kind = w.Dropdown(options=list(VOLUME_KINDS), value=kind, layout=w.Layout(width="7.5em"))
        self.inputs: dict[str, w.Text] = {}
        self.read_only = w.Checkbox(
            value=False, description="ro", indent=False, layout=w.Layout(width="3.5em")
        )
        self.remove = w.Button(icon="trash", tooltip="remove this volume", layout=w.Layout(width="2.4em"))
        self.remove.on_click(lambda _b: on_remove(self))
        self.hint = w.HTML("")
        self.hint.add_class("mlres-explain")
        self.error = error_label()
        self.row = w.HBox()
        self.box = w.VBox([self.row, self.error])
        self._build()
        self.kind.observe(self._kind_changed, names="value")
        self.read_only.observe(on_change, names="value")

    def _build(self) -> None:
        kind = str(self.kind.value)
        old = {name: widget.value for name, widget in self.inputs.items()}
        self.inputs = {}
        for placeholder, name in VOLUME_KINDS[kind]:
            text = _text(placeholder, width="11em")
            text.value = old.get(name, "")
            text.observe(self.on_change, names="value")
            self.inputs[name] = text
        self.hint.value = html.escape(VOLUME_HINTS[kind])
        extra = [] if kind == "shm" else [self.read_only]
        self.row.children = [self.kind, *self.inputs.values(), *extra, self.remove, self.hint]

    def _kind_changed(self, change: Any) -> None:
        self._build()
        self.on_change(change)

    @property
    def text(self) -> str:
        """The entry in the ``--volume`` grammar ("" while the row is blank)."""
        values = [str(t.value).strip() for t in self.inputs.values()]
        if not any(values):
            return ""
        ro = ":ro" if self.kind.value != "shm" and self.read_only.value else ""
        return ":".join([str(self.kind.value), *values]) + ro

    def set(self, text: str) -> None:
        kind, _, rest = text.partition(":")
        if kind not in VOLUME_KINDS:
            kind, rest = "pvc", text
        parts = rest.split(":")
        read_only = len(parts) > 1 and parts[-1] == "ro"
        if read_only:
            parts = parts[:-1]
        names = [name for _, name in VOLUME_KINDS[kind]]
        if len(parts) > len(names):  # extra colons belong to the source (the grammar decides)
            parts = [":".join(parts[: len(parts) - len(names) + 1]), *parts[len(parts) - len(names) + 1 :]]
        self.kind.value = kind
        self._build()
        for text_widget in self.inputs.values():
            text_widget.value = ""
        for name, part in zip(names, parts, strict=False):
            self.inputs[name].value = part
        self.read_only.value = read_only


class PairRow:
    """A ``KEY=VALUE`` row (node selector labels)."""

    def __init__(self, on_change: OnChange, on_remove: Callable[[PairRow], None]) -> None:
        self.key = _text("label key", width="14em")
        self.value = _text("value", width="10em")
        self.remove = w.Button(icon="trash", tooltip="remove this label", layout=w.Layout(width="2.4em"))
        self.remove.on_click(lambda _b: on_remove(self))
        self.badge = _badge()
        self.error = error_label()
        self.row = w.HBox([self.key, w.HTML("&nbsp;=&nbsp;"), self.value, self.remove, self.badge])
        self.box = w.VBox([self.row, self.error])
        _observe([self.key, self.value], on_change)

    @property
    def text(self) -> str:
        key, value = str(self.key.value).strip(), str(self.value.value).strip()
        return f"{key}={value}" if key or value else ""

    def set(self, key: str, value: str) -> None:
        self.key.value, self.value.value = key, value


class RowList:
    """An editable list of rows with an "add" button; the panel decides what a row is."""

    def __init__(self, label: str, add_label: str, make_row: Callable[[], Any], on_change: OnChange) -> None:
        self.rows: list[Any] = []
        self._make_row = make_row
        self._on_change = on_change
        self.add_button = w.Button(description=add_label, icon="plus", layout=w.Layout(width="auto"))
        self.add_button.add_class("mlres-add")
        self.add_button.on_click(lambda _b: self.add())
        self.empty = w.HTML("none", layout=w.Layout(width="auto"))
        self.empty.add_class("mlres-explain")
        self.rows_box = w.VBox([])
        self.box = w.VBox([w.HBox([_label(label), self.empty, self.add_button]), self.rows_box])

    def add(self, notify: bool = True) -> Any:
        row = self._make_row()
        self.rows.append(row)
        self._layout()
        if notify:
            self._on_change(None)
        return row

    def remove(self, row: Any) -> None:
        if row in self.rows:
            self.rows.remove(row)
            self._layout()
            self._on_change(None)

    def clear(self) -> None:
        self.rows = []
        self._layout()

    def _layout(self) -> None:
        self.rows_box.children = [row.box for row in self.rows]
        self.empty.layout.display = "none" if self.rows else ""
